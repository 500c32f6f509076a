import { createPrivateKey, sign as signEd25519 } from "node:crypto";
import type { CommandEnvelope } from "../../agent/protocol/commands.ts";
import { fromBase64Url, toBase64Url } from "../../agent/protocol/encoding.ts";
import { commandMessage, privateKeyFromSeed, publicKeyOf } from "../../agent/protocol/signing.ts";

/** Signs agent commands with the API's Ed25519 key; agents pin `publicKey` at enrolment. */
export interface CommandSigner {
  /** Raw Ed25519 public key, base64url. */
  publicKey: string;
  /** Serialises the envelope once and signs exactly that text. */
  sign(envelope: CommandEnvelope): Promise<{ body: string; signature: string }>;
}

/**
 * Builds the signer from the configured 32-byte seed (CADDIS_AGENT_SIGNING_KEY). Every command
 * is signed on the request's path, so this signs with `node:crypto`, on Bun and on Deno alike:
 * synchronous, about 21–25 µs a signature here against WebCrypto's 70 µs plus, on Bun, a hop to
 * a worker thread and back. Ed25519 is deterministic: the bytes are the same either way, and
 * agents verify them with WebCrypto.
 */
export async function createCommandSigner(seed: Uint8Array): Promise<CommandSigner> {
  const pkcs8 = privateKeyFromSeed(seed);
  const key = createPrivateKey({ key: fromBase64Url(pkcs8), format: "der", type: "pkcs8" });
  const encoder = new TextEncoder();
  return {
    publicKey: await publicKeyOf(pkcs8),
    sign(envelope) {
      const body = JSON.stringify(envelope);
      const signature = signEd25519(null, encoder.encode(commandMessage(body)), key);
      return Promise.resolve({ body, signature: toBase64Url(signature) });
    },
  };
}
