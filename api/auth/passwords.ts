import { hash, verify } from "@node-rs/argon2";
import { dictionary } from "@zxcvbn-ts/language-common";

// OWASP's argon2id minimum (m=19 MiB, t=2, p=1): ~70 ms per hash here, the same PHC string on
// Bun and Deno. Algorithm 2 is argon2id in @node-rs/argon2's enum.
const ARGON2_OPTIONS = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** Length bounds in characters; the upper bound stops hash-flooding, nothing is truncated. */
export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 1024;

// ~49,000 passwords ranked by how often they appear in breaches (zxcvbn-ts common list).
const COMMON_PASSWORDS = new Set(dictionary["passwords-common"] as string[]);

/** Why a new password is refused, in words a user can act on; undefined when it is acceptable. */
export function passwordProblem(password: string, email?: string): string | undefined {
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH) {
    return `must be at least ${PASSWORD_MIN_LENGTH} characters`;
  }
  if (length > PASSWORD_MAX_LENGTH) return `must be at most ${PASSWORD_MAX_LENGTH} characters`;
  if (COMMON_PASSWORDS.has(password.toLowerCase())) {
    return "is one of the most common passwords; choose another";
  }
  if (email && password.trim().toLowerCase() === email.trim().toLowerCase()) {
    return "must not be your email address";
  }
  return undefined;
}

/** Hashes with argon2id; the PHC string carries its own salt and parameters. */
export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2_OPTIONS);
}

/** Checks a password against a stored hash; a malformed hash counts as a mismatch. */
export async function verifyPassword(storedHash: string, password: string): Promise<boolean> {
  try {
    return await verify(storedHash, password);
  } catch {
    return false;
  }
}

let dummyHash: Promise<string> | undefined;

/**
 * Spends the same time as a real check when the account does not exist, so response timing does
 * not reveal which emails are registered.
 */
export async function verifyAgainstDummy(password: string): Promise<false> {
  dummyHash ??= hashPassword(crypto.randomUUID());
  await verifyPassword(await dummyHash, password);
  return false;
}

/** Normalises an email for storage and comparison: NFKC, trimmed, lowercased. */
export function normalizeEmail(email: string): string {
  return email.normalize("NFKC").trim().toLowerCase();
}
