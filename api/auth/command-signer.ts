import type { CommandEnvelope } from "../../agent/protocol/commands.ts";
import {
  commandMessage,
  importPrivateKey,
  privateKeyFromSeed,
  publicKeyOf,
  signText,
} from "../../agent/protocol/signing.ts";

/** Signs agent commands with the API's Ed25519 key; agents pin `publicKey` at enrolment. */
export interface CommandSigner {
  /** Raw Ed25519 public key, base64url. */
  publicKey: string;
  /** Serialises the envelope once and signs exactly that text. */
  sign(envelope: CommandEnvelope): Promise<{ body: string; signature: string }>;
}

/** Builds the signer from the configured 32-byte seed (CADDIS_AGENT_SIGNING_KEY). */
export async function createCommandSigner(seed: Uint8Array): Promise<CommandSigner> {
  const pkcs8 = privateKeyFromSeed(seed);
  const key = await importPrivateKey(pkcs8);
  return {
    publicKey: await publicKeyOf(pkcs8),
    async sign(envelope) {
      const body = JSON.stringify(envelope);
      return { body, signature: await signText(key, commandMessage(body)) };
    },
  };
}
