// Single-use 2FA backup codes: shown once, stored only as SHA-256, spent by one conditional UPDATE.
import { and, count, eq, isNull } from "drizzle-orm";
import type { Db, Tx } from "../../db/client.ts";
import { newId } from "../../db/ids.ts";
import { backupCodes } from "../../db/schema.ts";
import { hashToken } from "./tokens.ts";

/** How many codes a user holds after (re)generating them. */
export const BACKUP_CODE_COUNT = 10;
/** Random characters per code (log2(31) ≈ 4.95 bits each, about 49.5 bits in all). */
export const BACKUP_CODE_LENGTH = 10;

// Lower case with no 0/o, 1/l/i: nothing a user can misread from paper or mistype.
const ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz";
const VALID = new RegExp(`^[${ALPHABET}]{${BACKUP_CODE_LENGTH}}$`);

/** Ten fresh distinct codes like `k7m2p-x9qfr`, from the CSPRNG. */
export function generateBackupCodes(): string[] {
  return randomCodes().map(formatCode);
}

/** The canonical form that is hashed: trimmed, lower case, dashes and spaces removed. */
export function normalizeBackupCode(code: string): string | undefined {
  if (code.length > 64) return undefined;
  const normalized = code.trim().toLowerCase().replace(/[- ]/g, "");
  return VALID.test(normalized) ? normalized : undefined;
}

/** Replaces all the user's codes with new ones; returns their plaintext, this once only. */
export async function replaceBackupCodes(tx: Tx, userId: string, now: Date): Promise<string[]> {
  const codes = randomCodes();
  await tx.delete(backupCodes).where(eq(backupCodes.userId, userId));
  await tx.insert(backupCodes).values(codes.map((code) => ({
    id: newId("bkc"),
    userId,
    codeHash: hashToken(code),
    createdAt: now,
  })));
  return codes.map(formatCode);
}

/**
 * Spends one of the user's unused codes; true if it matched. A single conditional UPDATE, so of
 * two racing uses exactly one sees `used_at IS NULL`.
 */
export async function consumeBackupCode(
  tx: Tx,
  userId: string,
  code: string,
  now: Date,
): Promise<boolean> {
  const normalized = normalizeBackupCode(code);
  if (normalized === undefined) return false;
  const spent = await tx
    .update(backupCodes)
    .set({ usedAt: now })
    .where(and(
      eq(backupCodes.userId, userId),
      eq(backupCodes.codeHash, hashToken(normalized)),
      isNull(backupCodes.usedAt),
    ))
    .returning({ id: backupCodes.id });
  return spent.length > 0;
}

/** How many unused codes the user has left, to warn before they run out. */
export async function remainingBackupCodes(db: Db | Tx, userId: string): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(backupCodes)
    .where(and(eq(backupCodes.userId, userId), isNull(backupCodes.usedAt)));
  return row?.n ?? 0;
}

// Distinct so that no two rows share a hash and one UPDATE can only ever spend one code.
function randomCodes(): string[] {
  const codes = new Set<string>();
  while (codes.size < BACKUP_CODE_COUNT) codes.add(randomCode());
  return [...codes];
}

// Groups of five read back easily; the dash is cosmetic and dropped again by normalisation.
function formatCode(code: string): string {
  return code.match(/.{1,5}/g)?.join("-") ?? code;
}

function randomCode(): string {
  let code = "";
  while (code.length < BACKUP_CODE_LENGTH) {
    for (const byte of crypto.getRandomValues(new Uint8Array(BACKUP_CODE_LENGTH))) {
      // Rejection sampling: 31 letters do not divide 256, and a modulo would favour some.
      const index = byte & 31;
      if (index < ALPHABET.length && code.length < BACKUP_CODE_LENGTH) code += ALPHABET[index];
    }
  }
  return code;
}
