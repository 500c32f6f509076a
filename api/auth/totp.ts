// TOTP (RFC 6238) as authenticator apps speak it: SHA-1, 6 digits, 30-second steps.
import { constantTimeEqual } from "@oslojs/crypto/subtle";
import { encodeBase32UpperCaseNoPadding } from "@oslojs/encoding";
import { createTOTPKeyURI, generateHOTP } from "@oslojs/otp";
import { and, eq, lt } from "drizzle-orm";
import { encode as encodeQr } from "uqr";
import type { Tx } from "../../db/client.ts";
import { totpUsedSteps } from "../../db/schema.ts";
import type { SecretLocation, Secrets } from "./secrets.ts";

/** The issuer authenticator apps show next to the account. */
export const TOTP_ISSUER = "Caddis";
/** Code length; apps other than the big ones often support nothing else. */
export const TOTP_DIGITS = 6;
/** Step length in seconds; most apps ignore any other `period`. */
export const TOTP_PERIOD_SECONDS = 30;
/** Key length in bytes: 160 bits, the HMAC-SHA-1 block-friendly size RFC 4226 recommends. */
export const TOTP_SECRET_BYTES = 20;

const PERIOD_MS = TOTP_PERIOD_SECONDS * 1000;
// Steps older than this can never match again (only T-1..T+1 do), so their rows are dead weight.
const KEEP_USED_STEPS = 20;

/** What a user needs to enrol an authenticator app; the secret appears nowhere else. */
export interface TotpSetup {
  secret: Uint8Array;
  /** The secret in base32, for typing into an app that cannot scan. */
  manualKey: string;
  uri: string;
  qrSvg: string;
}

/** A fresh random TOTP key from the CSPRNG. */
export function generateTotpSecret(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(TOTP_SECRET_BYTES));
}

/** The key as unpadded upper-case base32, the form apps accept for manual entry. */
export function totpManualKey(secret: Uint8Array): string {
  return encodeBase32UpperCaseNoPadding(secret);
}

/** The `otpauth://totp/Caddis:<email>?…` URI apps import: issuer, SHA1, 6 digits, 30 s. */
export function totpKeyUri(email: string, secret: Uint8Array): string {
  return createTOTPKeyURI(TOTP_ISSUER, email, secret, TOTP_PERIOD_SECONDS, TOTP_DIGITS);
}

/** Everything the enrolment page shows for a new secret: manual key, URI and its QR code. */
export function createTotpSetup(email: string, secret = generateTotpSecret()): TotpSetup {
  const uri = totpKeyUri(email, secret);
  return { secret, manualKey: totpManualKey(secret), uri, qrSvg: renderQrSvg(uri) };
}

/**
 * The text as a QR code in an SVG string: one rect and one path with presentation attributes only
 * (no `style`, no script), so it can be inlined in a page under CSP `default-src 'self'`.
 */
export function renderQrSvg(text: string): string {
  // ECC "M" survives a smudged screen; a 4-module quiet zone is what the QR spec asks for.
  const { data, size } = encodeQr(text, { ecc: "M", border: 4 });
  let path = "";
  data.forEach((row, y) => {
    // One subpath per horizontal run of dark modules keeps the path a few KB.
    for (let x = 0; x < size; x++) {
      if (!row[x]) continue;
      const start = x;
      while (row[x + 1]) x++;
      path += `M${start} ${y}h${x + 1 - start}v1h-${x + 1 - start}z`;
    }
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${size} ${size}" width="256" ` +
    `height="256" shape-rendering="crispEdges" role="img" aria-label="QR code">` +
    `<rect width="${size}" height="${size}" fill="#fff"/><path d="${path}" fill="#000"/></svg>`;
}

/** The RFC 6238 time step `now` falls in. */
export function totpStep(now: Date): number {
  const ms = now.getTime();
  if (!Number.isFinite(ms)) throw new TypeError("totpStep: now is not a valid date");
  return Math.floor(ms / PERIOD_MS);
}

/** The code 6 ASCII digits after trimming and removing spaces ("123 456"), else undefined. */
export function normalizeTotpCode(code: string): string | undefined {
  // The length cap keeps a megabyte of whitespace from costing anything.
  if (code.length > 32) return undefined;
  const digits = code.trim().replaceAll(" ", "");
  return /^[0-9]{6}$/.test(digits) ? digits : undefined;
}

/**
 * The step among T-1, T and T+1 whose code equals `code`, or undefined. All three are computed
 * and compared in constant time, so timing tells nothing about which (or whether one) matched.
 */
export function matchTotpStep(secret: Uint8Array, code: string, now: Date): number | undefined {
  const digits = normalizeTotpCode(code);
  if (digits === undefined) return undefined;
  const given = new TextEncoder().encode(digits);
  const current = totpStep(now);
  let matched: number | undefined;
  for (const step of [current - 1, current, current + 1]) {
    const expected = new TextEncoder().encode(generateHOTP(secret, BigInt(step), TOTP_DIGITS));
    if (constantTimeEqual(given, expected)) matched = step;
  }
  return matched;
}

/**
 * Records that the user spent `step`; true only for the one call that inserted it, so a step
 * works once per user even when parallel requests race (the primary key decides).
 */
export async function consumeTotpStep(tx: Tx, userId: string, step: number): Promise<boolean> {
  const inserted = await tx
    .insert(totpUsedSteps)
    .values({ userId, step })
    .onConflictDoNothing()
    .returning({ step: totpUsedSteps.step });
  // Pruning only after winning the insert: a loser never takes row locks the winner might want.
  if (inserted.length === 0) return false;
  await tx
    .delete(totpUsedSteps)
    .where(and(eq(totpUsedSteps.userId, userId), lt(totpUsedSteps.step, step - KEEP_USED_STEPS)));
  return true;
}

/** Checks a code against T-1..T+1 and spends its step; false if wrong, malformed or replayed. */
export async function verifyAndConsumeTotp(
  tx: Tx,
  input: { userId: string; secret: Uint8Array; code: string; now: Date },
): Promise<boolean> {
  const step = matchTotpStep(input.secret, input.code, input.now);
  return step !== undefined && await consumeTotpStep(tx, input.userId, step);
}

/** Where a user's TOTP secret lives; bound into the ciphertext so it cannot move between users. */
export function totpSecretLocation(userId: string): SecretLocation {
  return { table: "users", column: "totp_secret", row: userId };
}

/** Encrypts a TOTP key for `users.totp_secret`. */
export function encryptTotpSecret(
  secrets: Secrets,
  userId: string,
  secret: Uint8Array,
): Promise<string> {
  return secrets.encrypt(secret, totpSecretLocation(userId));
}

/** Decrypts `users.totp_secret`; throws SecretDecryptError for another user's value. */
export function decryptTotpSecret(
  secrets: Secrets,
  userId: string,
  value: string,
): Promise<Uint8Array> {
  return secrets.decrypt(value, totpSecretLocation(userId));
}
