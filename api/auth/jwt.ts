import { sha256 } from "@oslojs/crypto/sha2";
import { decodeBase64urlIgnorePadding, encodeBase64urlNoPadding } from "@oslojs/encoding";
import { z } from "zod";

/** Access tokens live 30 minutes (seed requirement); their session can end them sooner. */
export const ACCESS_TOKEN_TTL_SECONDS = 30 * 60;

const AccessClaims = z.object({
  typ: z.literal("access"),
  sub: z.string().min(1),
  sid: z.string().min(1),
  iat: z.number().int(),
  exp: z.number().int(),
}).strict();

/** The verified contents of an access token. */
export type AccessClaims = z.infer<typeof AccessClaims>;

// Bounds the verified-token memory; past this many tokens it starts afresh.
const MAX_VERIFIED_TOKENS = 10_000;

/** Signs and verifies HS256 access tokens; the keys are imported once. */
export interface AccessTokens {
  sign(subject: { userId: string; sessionId: string }, now: Date): Promise<string>;
  /** The claims, or undefined for anything forged, altered, expired or not an access token. */
  verify(token: string, now: Date): Promise<AccessClaims | undefined>;
}

/** A key's id: derived from the key, so it needs no configuring and reveals nothing of it. */
export function signingKeyId(key: Uint8Array): string {
  return encodeBase64urlNoPadding(sha256(key).slice(0, 9));
}

/**
 * Imports the HMAC keys (non-extractable), newest first: the newest signs, every one verifies,
 * so a key can be replaced without signing everyone out. Each key has exactly one header Caddis
 * issues and accepts, `{"alg":"HS256","typ":"JWT","kid":…}`: the algorithm is pinned, never
 * read from the token, and the kid only picks among our own keys.
 */
export async function createAccessTokens(secretKeys: Uint8Array[]): Promise<AccessTokens> {
  if (secretKeys.length === 0) throw new Error("at least one signing key is required");
  const encoder = new TextEncoder();
  const keys = await Promise.all(secretKeys.map(async (raw) => ({
    header: encodeBase64urlNoPadding(
      encoder.encode(JSON.stringify({ alg: "HS256", typ: "JWT", kid: signingKeyId(raw) })),
    ),
    key: await crypto.subtle.importKey(
      "raw",
      raw as Uint8Array<ArrayBuffer>,
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    ),
  })));
  const signer = keys[0] as (typeof keys)[number];
  // Tokens whose signature checked out, by their exact text: a client sends the same token with
  // every request for half an hour, and WebCrypto's HMAC costs tens of microseconds a call on Bun
  // (most of a request's own CPU). A hit is the same bytes already verified under one of these
  // keys, so only the time checks are left; a forged or altered token never gets in.
  const verified = new Map<string, AccessClaims>();
  const current = (claims: AccessClaims, now: Date) => {
    const nowSeconds = Math.floor(now.getTime() / 1000);
    return claims.exp > nowSeconds && claims.iat <= nowSeconds + 60 ? claims : undefined;
  };
  return {
    async sign({ userId, sessionId }, now) {
      const iat = Math.floor(now.getTime() / 1000);
      const claims: AccessClaims = {
        typ: "access",
        sub: userId,
        sid: sessionId,
        iat,
        exp: iat + ACCESS_TOKEN_TTL_SECONDS,
      };
      const payload = encodeBase64urlNoPadding(encoder.encode(JSON.stringify(claims)));
      const signed = `${signer.header}.${payload}`;
      const signature = await crypto.subtle.sign("HMAC", signer.key, encoder.encode(signed));
      return `${signed}.${encodeBase64urlNoPadding(new Uint8Array(signature))}`;
    },
    async verify(token, now) {
      const known = verified.get(token);
      if (known) return current(known, now);
      const parts = token.split(".");
      if (parts.length !== 3) return undefined;
      const [header, payload, signature] = parts as [string, string, string];
      // Byte-for-byte one of our headers: `alg: none`, HS512, RS256, foreign kids all fail here.
      const match = keys.find((k) => k.header === header);
      if (!match) return undefined;
      let claims: unknown;
      try {
        const ok = await crypto.subtle.verify(
          "HMAC",
          match.key,
          decodeBase64urlIgnorePadding(signature) as Uint8Array<ArrayBuffer>,
          encoder.encode(`${header}.${payload}`),
        );
        if (!ok) return undefined;
        claims = JSON.parse(new TextDecoder().decode(decodeBase64urlIgnorePadding(payload)));
      } catch {
        return undefined;
      }
      const parsed = AccessClaims.safeParse(claims);
      if (!parsed.success) return undefined;
      if (verified.size >= MAX_VERIFIED_TOKENS) verified.clear();
      verified.set(token, parsed.data);
      return current(parsed.data, now);
    },
  };
}
