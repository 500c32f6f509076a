import { encodeBase32LowerCaseNoPadding } from "@oslojs/encoding";

/** Returns a prefixed random id such as `site_x2k…`: the prefix says what it names in logs. */
export function newId(prefix: string): string {
  // 15 random bytes = 120 bits: unguessable, and exactly 24 base32 characters.
  return `${prefix}_${encodeBase32LowerCaseNoPadding(crypto.getRandomValues(new Uint8Array(15)))}`;
}
