import { and, eq, isNull, ne } from "drizzle-orm";
import type { Db, Tx } from "../../db/client.ts";
import { newId } from "../../db/ids.ts";
import { refreshTokens, sessions, users } from "../../db/schema.ts";
import { hashesEqual, hashToken, randomSecret, splitToken } from "./tokens.ts";

/** A session's absolute lifetime (seed: refresh tokens last 7 days); rotation never extends it. */
export const SESSION_TTL_MS = 7 * 24 * 60 * 60 * 1000;

/** Where a sign-in comes from, recorded on the session and shown on the account page. */
export interface ClientInfo {
  ip?: string;
  userAgent?: string;
  deviceId?: string;
}

/** The signed-in user behind a valid session, as every authenticated request sees it. */
export interface SessionUser {
  sessionId: string;
  userId: string;
  email: string;
  isSuperuser: boolean;
  totpEnabled: boolean;
  /** A tenant of the user requires 2FA and it is off: only enrolment is reachable. */
  mustEnrolTotp: boolean;
  /** The tenants the user belongs to, oldest membership first (the default active one). */
  tenantIds: string[];
}

/** Starts a session and returns it with its first refresh token (`id.secret`). */
export async function createSession(
  tx: Tx,
  userId: string,
  client: ClientInfo,
  now: Date,
): Promise<{ sessionId: string; refreshToken: string; expiresAt: Date }> {
  const sessionId = newId("ses");
  const expiresAt = new Date(now.getTime() + SESSION_TTL_MS);
  await tx.insert(sessions).values({
    id: sessionId,
    userId,
    deviceId: client.deviceId ?? null,
    ip: client.ip ?? null,
    userAgent: client.userAgent?.slice(0, 512) ?? null,
    createdAt: now,
    lastSeenAt: now,
    expiresAt,
  });
  return { sessionId, refreshToken: await issueRefreshToken(tx, sessionId, now), expiresAt };
}

async function issueRefreshToken(tx: Tx, sessionId: string, now: Date): Promise<string> {
  const id = newId("rt");
  const secret = randomSecret(32);
  await tx.insert(refreshTokens).values({
    id,
    sessionId,
    secretHash: hashToken(secret),
    createdAt: now,
  });
  return `${id}.${secret}`;
}

/** What presenting a refresh token led to; failures are values, the caller decides what to say. */
export type RotateResult =
  | { ok: true; sessionId: string; userId: string; refreshToken: string }
  | { ok: false; reason: "invalid" | "expired" | "revoked" }
  | { ok: false; reason: "reused"; sessionId: string; userId: string };

/**
 * Exchanges a refresh token for a new one. The token row is locked, so of two concurrent uses
 * one rotates and the other finds it rotated: a reuse, which revokes the whole session.
 */
export async function rotateRefreshToken(tx: Tx, token: string, now: Date): Promise<RotateResult> {
  const parts = splitToken(token);
  if (!parts) return { ok: false, reason: "invalid" };
  const [row] = await tx
    .select({
      secretHash: refreshTokens.secretHash,
      rotatedAt: refreshTokens.rotatedAt,
      sessionId: sessions.id,
      userId: sessions.userId,
      expiresAt: sessions.expiresAt,
      revokedAt: sessions.revokedAt,
      disabledAt: users.disabledAt,
    })
    .from(refreshTokens)
    .innerJoin(sessions, eq(sessions.id, refreshTokens.sessionId))
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(eq(refreshTokens.id, parts.id))
    .for("update", { of: refreshTokens });
  if (!row || !hashesEqual(row.secretHash, hashToken(parts.secret))) {
    return { ok: false, reason: "invalid" };
  }
  if (row.rotatedAt) {
    if (!row.revokedAt) await revokeSession(tx, row.sessionId, "refresh_token_reuse", now);
    return { ok: false, reason: "reused", sessionId: row.sessionId, userId: row.userId };
  }
  if (row.revokedAt || row.disabledAt) return { ok: false, reason: "revoked" };
  if (row.expiresAt <= now) return { ok: false, reason: "expired" };
  await tx.update(refreshTokens).set({ rotatedAt: now }).where(eq(refreshTokens.id, parts.id));
  await tx.update(sessions).set({ lastSeenAt: now }).where(eq(sessions.id, row.sessionId));
  return {
    ok: true,
    sessionId: row.sessionId,
    userId: row.userId,
    refreshToken: await issueRefreshToken(tx, row.sessionId, now),
  };
}

/** Ends a session now: its access and refresh tokens stop working on the next request. */
export async function revokeSession(tx: Tx | Db, sessionId: string, reason: string, now: Date) {
  await tx
    .update(sessions)
    .set({ revokedAt: now, revokedReason: reason })
    .where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt)));
}

/** Ends every live session of a user, except `keep` (the caller's own, when given). */
export async function revokeUserSessions(
  tx: Tx,
  userId: string,
  reason: string,
  now: Date,
  keep?: string,
): Promise<number> {
  const revoked = await tx
    .update(sessions)
    .set({ revokedAt: now, revokedReason: reason })
    .where(and(
      eq(sessions.userId, userId),
      isNull(sessions.revokedAt),
      keep ? ne(sessions.id, keep) : undefined,
    ))
    .returning({ id: sessions.id });
  return revoked.length;
}
