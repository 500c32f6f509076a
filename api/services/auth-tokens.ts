import type { Tx } from "../../db/client.ts";
import { ACCESS_TOKEN_TTL_SECONDS } from "../auth/jwt.ts";
import { type ClientInfo, createSession } from "../auth/sessions.ts";
import type { AppDeps } from "../deps.ts";

/** What a successful sign-in or refresh hands to an API client (and, as cookies, to a browser). */
export interface IssuedTokens {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  tokenType: "Bearer";
  /** When the session (and so the refresh token) ends; for the refresh cookie's expiry. */
  refreshExpiresAt: Date;
}

/** Signs an access token for a session and packages it with the refresh token. */
export async function tokensFor(
  deps: AppDeps,
  session: { userId: string; sessionId: string; refreshToken: string; expiresAt: Date },
  now: Date,
): Promise<IssuedTokens> {
  return {
    accessToken: await deps.accessTokens.sign(session, now),
    refreshToken: session.refreshToken,
    expiresIn: ACCESS_TOKEN_TTL_SECONDS,
    tokenType: "Bearer",
    refreshExpiresAt: session.expiresAt,
  };
}

/** Starts a session for `userId` and issues its tokens, inside the caller's transaction. */
export async function startSession(
  deps: AppDeps,
  tx: Tx,
  userId: string,
  client: ClientInfo,
  now: Date,
): Promise<{ sessionId: string; tokens: IssuedTokens }> {
  const session = await createSession(tx, userId, client, now);
  return {
    sessionId: session.sessionId,
    tokens: await tokensFor(deps, { ...session, userId }, now),
  };
}
