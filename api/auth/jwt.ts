import { decodeBase64urlIgnorePadding, encodeBase64urlNoPadding } from "@oslojs/encoding";
import { z } from "zod";

/** Access tokens live 30 minutes (seed requirement); their session can end them sooner. */
export const ACCESS_TOKEN_TTL_SECONDS = 30 * 60;

// The only header Caddis issues or accepts: the algorithm is pinned, never read from the token.
const HEADER = encodeBase64urlNoPadding(
  new TextEncoder().encode(JSON.stringify({ alg: "HS256", typ: "JWT" })),
);

const AccessClaims = z.object({
  typ: z.literal("access"),
  sub: z.string().min(1),
  sid: z.string().min(1),
  iat: z.number().int(),
  exp: z.number().int(),
}).strict();

/** The verified contents of an access token. */
export type AccessClaims = z.infer<typeof AccessClaims>;

/** Signs and verifies HS256 access tokens with one key imported once. */
export interface AccessTokens {
  sign(subject: { userId: string; sessionId: string }, now: Date): Promise<string>;
  /** The claims, or undefined for anything forged, altered, expired or not an access token. */
  verify(token: string, now: Date): Promise<AccessClaims | undefined>;
}

/** Imports the HMAC key (non-extractable) and returns the signer/verifier. */
export async function createAccessTokens(secretKey: Uint8Array): Promise<AccessTokens> {
  const key = await crypto.subtle.importKey(
    "raw",
    secretKey as Uint8Array<ArrayBuffer>,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
  const encoder = new TextEncoder();
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
      const signature = await crypto.subtle.sign(
        "HMAC",
        key,
        encoder.encode(`${HEADER}.${payload}`),
      );
      return `${HEADER}.${payload}.${encodeBase64urlNoPadding(new Uint8Array(signature))}`;
    },
    async verify(token, now) {
      const parts = token.split(".");
      if (parts.length !== 3) return undefined;
      const [header, payload, signature] = parts as [string, string, string];
      // Byte-for-byte our header: `alg: none`, HS512, RS256 and `kid` tricks all fail here.
      if (header !== HEADER) return undefined;
      let signatureBytes: Uint8Array;
      let claims: unknown;
      try {
        signatureBytes = decodeBase64urlIgnorePadding(signature);
        const ok = await crypto.subtle.verify(
          "HMAC",
          key,
          signatureBytes as Uint8Array<ArrayBuffer>,
          encoder.encode(`${header}.${payload}`),
        );
        if (!ok) return undefined;
        claims = JSON.parse(new TextDecoder().decode(decodeBase64urlIgnorePadding(payload)));
      } catch {
        return undefined;
      }
      const parsed = AccessClaims.safeParse(claims);
      if (!parsed.success) return undefined;
      const nowSeconds = Math.floor(now.getTime() / 1000);
      if (parsed.data.exp <= nowSeconds || parsed.data.iat > nowSeconds + 60) return undefined;
      return parsed.data;
    },
  };
}
