import { toBase64Url } from "../../agent/protocol/encoding.ts";

/** A fresh CADDIS_AGENT_SIGNING_KEY value (a 32-byte seed, base64url) for test configs. */
export function randomAgentSigningKey(): string {
  return toBase64Url(crypto.getRandomValues(new Uint8Array(32)));
}
