// Ed25519 through WebCrypto, shared by the API (signs commands, checks challenge answers) and the
// agent (answers challenges, checks commands). Keys travel as base64url: public keys raw (32
// bytes), private keys PKCS#8.
import { fromBase64Url, toBase64Url } from "./encoding.ts";

const ED25519 = { name: "Ed25519" } as const;
const PUBLIC_KEY_BYTES = 32;
const SIGNATURE_BYTES = 64;

// Each signed text starts with its purpose, so a signature made for one can never pass as another.
const AUTH_PURPOSE = "caddis-agent-auth-v1";
const COMMAND_PURPOSE = "caddis-command-v1";

/** What an agent signs to answer a challenge: the nonce, its host id and the signing time. */
export function authMessage(answer: { nonce: string; hostId: string; signedAt: string }): string {
  return `${AUTH_PURPOSE}\n${answer.nonce}\n${answer.hostId}\n${answer.signedAt}`;
}

/** What the API signs for a command: the exact JSON text of its envelope. */
export function commandMessage(body: string): string {
  return `${COMMAND_PURPOSE}\n${body}`;
}

/** A fresh key pair: the private key as PKCS#8 base64url, the public key raw base64url. */
export async function generateSigningKeyPair(): Promise<{ privateKey: string; publicKey: string }> {
  const pair = await crypto.subtle.generateKey(ED25519, true, ["sign", "verify"]) as CryptoKeyPair;
  const privateKey = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  const publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  return { privateKey: toBase64Url(privateKey), publicKey: toBase64Url(publicKey) };
}

/** Length of the seed an Ed25519 private key is derived from. */
export const AGENT_SIGNING_SEED_BYTES = 32;

// RFC 8410 PKCS#8 wrapping of a 32-byte Ed25519 seed: fixed DER header, then the seed.
const PKCS8_ED25519_HEADER = [
  0x30,
  0x2e,
  0x02,
  0x01,
  0x00,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x70,
  0x04,
  0x22,
  0x04,
  0x20,
];

/** The PKCS#8 base64url private key derived from a 32-byte seed (as kept in configuration). */
export function privateKeyFromSeed(seed: Uint8Array): string {
  if (seed.length !== AGENT_SIGNING_SEED_BYTES) throw new Error("an Ed25519 seed is 32 bytes");
  return toBase64Url(new Uint8Array([...PKCS8_ED25519_HEADER, ...seed]));
}

/** Imports a PKCS#8 base64url private key for signing; throws when it is not an Ed25519 key. */
export async function importPrivateKey(pkcs8: string): Promise<CryptoKey> {
  return await crypto.subtle.importKey("pkcs8", fromBase64Url(pkcs8), ED25519, true, ["sign"]);
}

/** The raw base64url public key belonging to a PKCS#8 base64url private key. */
export async function publicKeyOf(pkcs8: string): Promise<string> {
  const key = await importPrivateKey(pkcs8);
  const jwk = await crypto.subtle.exportKey("jwk", key) as JsonWebKey;
  if (!jwk.x) throw new Error("the private key does not carry its public half");
  return jwk.x;
}

/** Whether a string is a well-formed raw Ed25519 public key in base64url. */
export function isPublicKey(text: string): boolean {
  try {
    return fromBase64Url(text).length === PUBLIC_KEY_BYTES;
  } catch {
    return false;
  }
}

/** Imports a raw base64url public key for verifying; throws when it is malformed. */
export async function importPublicKey(raw: string): Promise<CryptoKey> {
  if (!isPublicKey(raw)) throw new Error("an Ed25519 public key is 32 bytes of base64url");
  return await crypto.subtle.importKey("raw", fromBase64Url(raw), ED25519, true, ["verify"]);
}

/** Signs UTF-8 text; returns the 64-byte signature as base64url. */
export async function signText(key: CryptoKey, text: string): Promise<string> {
  const signature = await crypto.subtle.sign(ED25519, key, new TextEncoder().encode(text));
  return toBase64Url(new Uint8Array(signature));
}

/** Checks a base64url signature over UTF-8 text; false (never a throw) for anything malformed. */
export async function verifyText(
  key: CryptoKey,
  text: string,
  signature: string,
): Promise<boolean> {
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = fromBase64Url(signature);
  } catch {
    return false;
  }
  if (bytes.length !== SIGNATURE_BYTES) return false;
  try {
    return await crypto.subtle.verify(ED25519, key, bytes, new TextEncoder().encode(text));
  } catch {
    return false;
  }
}
