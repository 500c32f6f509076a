// Secrets at rest: AES-256-GCM through WebCrypto only, so the same file runs on Bun and Deno.
import {
  decodeBase64,
  decodeBase64urlIgnorePadding,
  encodeBase64,
  encodeBase64urlNoPadding,
} from "@oslojs/encoding";

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
// Bumped only if the AAD layout changes, so old and new layouts can never be confused.
const AAD_CONTEXT = "caddis/secret/1";

/** One decoded key entry; the raw bytes are only needed until `createSecrets` imports them. */
export interface KeyringEntry {
  readonly version: number;
  readonly key: Uint8Array;
}

/** All known keys, newest first: the first encrypts, all decrypt so old rows stay readable. */
export type Keyring = readonly KeyringEntry[];

/** Where a secret is stored; bound into the AAD so a ciphertext cannot be moved to another cell. */
export interface SecretLocation {
  readonly table: string;
  readonly column: string;
  readonly row: string;
}

/** The only error decrypt throws; the message names the cell and a reason, never secrets. */
export class SecretDecryptError extends Error {
  override readonly name = "SecretDecryptError";

  constructor(where: SecretLocation, readonly reason: string) {
    super(`Cannot decrypt secret for ${where.table}.${where.column}: ${reason}`);
  }
}

/** Encrypts and decrypts column values with the keyring's keys, already imported as CryptoKeys. */
export interface Secrets {
  /** Version of the key new values are encrypted with. */
  readonly currentVersion: number;
  /** Encrypts to `v<version>:<iv>:<tag>:<ciphertext>` bound to `where`. */
  encrypt(plaintext: string | Uint8Array, where: SecretLocation): Promise<string>;
  /** Decrypts a value produced by `encrypt` for the same `where`; throws SecretDecryptError. */
  decrypt(value: string, where: SecretLocation): Promise<Uint8Array>;
  /** Like `decrypt`, for values that were encrypted from a string. */
  decryptText(value: string, where: SecretLocation): Promise<string>;
  /** True unless the value is under the newest key, so a rotation job knows what to re-encrypt. */
  needsRotation(value: string): boolean;
  /** Decrypts under any known key and encrypts again under the newest. */
  reencrypt(value: string, where: SecretLocation): Promise<string>;
}

/** Parses `CADDIS_ENCRYPTION_KEYS` (`<version>:<base64 key>,...`); errors never echo key text. */
export function parseKeyring(value: string): Keyring {
  if (value.trim() === "") throw new Error("CADDIS_ENCRYPTION_KEYS is empty");
  const seen = new Set<number>();
  const keys: string[] = [];
  return value.split(",").map((raw, index) => {
    const problem = (what: string) =>
      new Error(`CADDIS_ENCRYPTION_KEYS entry ${index + 1}: ${what}`);
    const entry = raw.trim();
    if (entry === "") throw problem("is empty");
    const colon = entry.indexOf(":");
    if (colon < 0) throw problem("must be <version>:<base64 key>");
    const version = parsePositiveInt(entry.slice(0, colon));
    if (version === undefined) throw problem("version must be a positive integer");
    if (seen.has(version)) throw problem(`version ${version} appears more than once`);
    seen.add(version);
    const keyText = entry.slice(colon + 1);
    let key: Uint8Array;
    try {
      key = decodeBase64(keyText);
    } catch {
      throw problem("key is not valid base64");
    }
    if (key.length !== KEY_BYTES) {
      throw problem(`key is ${key.length} bytes, expected ${KEY_BYTES}`);
    }
    // A key reused under a new version would make rotation a silent no-op.
    const reused = keys.indexOf(keyText);
    if (reused >= 0) throw problem(`key repeats the key of entry ${reused + 1}`);
    keys.push(keyText);
    return { version, key };
  });
}

/** Makes a fresh `<version>:<base64 key>` entry, for development setups and key rotation. */
export function generateKeyringEntry(version: number): string {
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new Error("Key version must be a positive integer");
  }
  return `${version}:${encodeBase64(crypto.getRandomValues(new Uint8Array(KEY_BYTES)))}`;
}

/** Imports the keyring once as non-extractable AES-GCM keys; only the newest may encrypt. */
export async function createSecrets(keyring: Keyring): Promise<Secrets> {
  const newest = keyring[0];
  if (!newest) throw new Error("Keyring has no keys");
  const currentVersion = newest.version;
  const importKey = (key: Uint8Array, usages: KeyUsage[]) =>
    crypto.subtle.importKey("raw", copy(key), "AES-GCM", false, usages);
  const encryptKey = await importKey(newest.key, ["encrypt", "decrypt"]);
  const keys = new Map([[currentVersion, encryptKey]]);
  for (const { version, key } of keyring.slice(1)) {
    if (keys.has(version)) throw new Error(`Keyring repeats version ${version}`);
    keys.set(version, await importKey(key, ["decrypt"]));
  }

  async function encrypt(plaintext: string | Uint8Array, where: SecretLocation): Promise<string> {
    const data = typeof plaintext === "string" ? new TextEncoder().encode(plaintext) : plaintext;
    const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
    const sealed = new Uint8Array(
      await crypto.subtle.encrypt(
        { name: "AES-GCM", iv, additionalData: aad(where, currentVersion), tagLength: 128 },
        encryptKey,
        copy(data),
      ),
    );
    const split = sealed.length - TAG_BYTES;
    return [
      `v${currentVersion}`,
      encodeBase64urlNoPadding(iv),
      encodeBase64urlNoPadding(sealed.subarray(split)),
      encodeBase64urlNoPadding(sealed.subarray(0, split)),
    ].join(":");
  }

  async function decrypt(value: string, where: SecretLocation): Promise<Uint8Array> {
    const fail = (reason: string) => new SecretDecryptError(where, reason);
    const parts = value.split(":");
    const [prefix, ivText, tagText, ctText] = parts;
    if (parts.length !== 4 || prefix === undefined) throw fail("malformed value");
    const version = parseVersion(prefix);
    if (version === undefined) throw fail("malformed key version");
    const key = keys.get(version);
    if (!key) throw fail(`unknown key version ${version}`);
    const [iv, tag, ciphertext] = [ivText, tagText, ctText].map(decodePart);
    if (!iv || !tag || !ciphertext) throw fail("bad base64url encoding");
    if (iv.length !== IV_BYTES) throw fail("wrong IV length");
    if (tag.length !== TAG_BYTES) throw fail("wrong tag length");
    const sealed = new Uint8Array(ciphertext.length + TAG_BYTES);
    sealed.set(ciphertext);
    sealed.set(tag, ciphertext.length);
    try {
      return new Uint8Array(
        await crypto.subtle.decrypt(
          { name: "AES-GCM", iv, additionalData: aad(where, version), tagLength: 128 },
          key,
          sealed,
        ),
      );
    } catch {
      throw fail("authentication failed (wrong key, location or tampered value)");
    }
  }

  async function decryptText(value: string, where: SecretLocation): Promise<string> {
    const bytes = await decrypt(value, where);
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      throw new SecretDecryptError(where, "plaintext is not valid UTF-8");
    }
  }

  return {
    currentVersion,
    encrypt,
    decrypt,
    decryptText,
    // Malformed values count as needing rotation so the rotation job surfaces them via reencrypt.
    needsRotation: (value) => parseVersion(value.split(":", 1)[0] ?? "") !== currentVersion,
    reencrypt: async (value, where) => encrypt(await decrypt(value, where), where),
  };
}

// A JSON array keeps fields unambiguous ("a|bc" vs "ab|c"); the version pins the value to its key.
function aad(where: SecretLocation, version: number): Uint8Array<ArrayBuffer> {
  const fields = [AAD_CONTEXT, version, where.table, where.column, where.row];
  return new TextEncoder().encode(JSON.stringify(fields));
}

// Strict digits only: Number() alone would accept "", " 1", "1e3" and "0x1".
function parsePositiveInt(text: string): number | undefined {
  const value = Number(text);
  return /^[1-9][0-9]*$/.test(text) && Number.isSafeInteger(value) ? value : undefined;
}

function parseVersion(prefix: string): number | undefined {
  return prefix.startsWith("v") ? parsePositiveInt(prefix.slice(1)) : undefined;
}

// Accepts only the canonical unpadded encoding, so each stored value has exactly one spelling.
function decodePart(text: string | undefined): Uint8Array<ArrayBuffer> | undefined {
  if (text === undefined) return undefined;
  try {
    const bytes = copy(decodeBase64urlIgnorePadding(text));
    return encodeBase64urlNoPadding(bytes) === text ? bytes : undefined;
  } catch {
    return undefined;
  }
}

// WebCrypto wants ArrayBuffer-backed views; copying also keeps callers' buffers out of our hands.
function copy(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes);
}
