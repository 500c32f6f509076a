import { and, desc, eq, gt, isNull } from "drizzle-orm";
import { refreshTokens, sessions } from "../../db/schema.ts";
import { describeUserAgent } from "../auth/devices.ts";
import { revokeSession, revokeUserSessions, rotateRefreshToken } from "../auth/sessions.ts";
import { hashesEqual, hashToken, splitToken } from "../auth/tokens.ts";
import type { AppDeps, RequestAuth } from "../deps.ts";
import { AppError } from "../errors.ts";
import { type AuditContext, recordAudit } from "./audit.ts";
import { type IssuedTokens, tokensFor } from "./auth-tokens.ts";

/** The outcome of a refresh; a reuse has already revoked the session when this returns. */
export type RefreshResult =
  | { kind: "refreshed"; tokens: IssuedTokens }
  | { kind: "rejected"; reason: "invalid" | "expired" | "revoked" | "reused" };

/** Rotates a refresh token; presenting a rotated one revokes its whole session and is audited. */
export async function refresh(
  deps: AppDeps,
  audit: AuditContext,
  refreshToken: string,
): Promise<RefreshResult> {
  const now = deps.now();
  return await deps.database.db.transaction(async (tx): Promise<RefreshResult> => {
    const result = await rotateRefreshToken(tx, refreshToken, now);
    if (result.ok) {
      const [session] = await tx
        .select({ expiresAt: sessions.expiresAt })
        .from(sessions)
        .where(eq(sessions.id, result.sessionId));
      return {
        kind: "refreshed",
        tokens: await tokensFor(deps, { ...result, expiresAt: session?.expiresAt ?? now }, now),
      };
    }
    if (result.reason === "reused") {
      await recordAudit(tx, { ...audit, actor: { kind: "user", id: result.userId } }, {
        action: "auth.refresh_reuse",
        resourceType: "session",
        resourceId: result.sessionId,
        outcome: "denied",
        details: { effect: "session revoked" },
      });
    }
    return { kind: "rejected", reason: result.reason };
  });
}

/** Ends the caller's own session. */
export async function logout(deps: AppDeps, audit: AuditContext, auth: RequestAuth): Promise<void> {
  const now = deps.now();
  await deps.database.db.transaction(async (tx) => {
    await revokeSession(tx, auth.sessionId, "logout", now);
    await recordAudit(tx, audit, {
      action: "auth.logout",
      resourceType: "session",
      resourceId: auth.sessionId,
      outcome: "success",
    });
  });
}

/** One row of the account page's session list. */
export interface SessionView {
  id: string;
  device: string;
  ip: string | null;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
  current: boolean;
}

/** The caller's live sessions, most recently used first. */
export async function listSessions(deps: AppDeps, auth: RequestAuth): Promise<SessionView[]> {
  const rows = await deps.database.db
    .select()
    .from(sessions)
    .where(and(
      eq(sessions.userId, auth.userId),
      isNull(sessions.revokedAt),
      gt(sessions.expiresAt, deps.now()),
    ))
    .orderBy(desc(sessions.lastSeenAt));
  return rows.map((row) => ({
    id: row.id,
    device: describeUserAgent(row.userAgent ?? ""),
    ip: row.ip,
    createdAt: row.createdAt.toISOString(),
    lastSeenAt: row.lastSeenAt.toISOString(),
    expiresAt: row.expiresAt.toISOString(),
    current: row.id === auth.sessionId,
  }));
}

/** Revokes one of the caller's sessions; another user's session id is a plain 404. */
export async function revokeOwnSession(
  deps: AppDeps,
  audit: AuditContext,
  auth: RequestAuth,
  sessionId: string,
): Promise<void> {
  const now = deps.now();
  await deps.database.db.transaction(async (tx) => {
    const revoked = await tx
      .update(sessions)
      .set({ revokedAt: now, revokedReason: "revoked_by_user" })
      .where(and(
        eq(sessions.id, sessionId),
        eq(sessions.userId, auth.userId),
        isNull(sessions.revokedAt),
      ))
      .returning({ id: sessions.id });
    if (revoked.length === 0) throw new AppError("not_found", `Session "${sessionId}" not found`);
    await recordAudit(tx, audit, {
      action: "auth.session_revoke",
      resourceType: "session",
      resourceId: sessionId,
      outcome: "success",
    });
  });
}

/** "Sign out everywhere else": revokes every session of the caller but the current one. */
export async function revokeOtherSessions(
  deps: AppDeps,
  audit: AuditContext,
  auth: RequestAuth,
): Promise<number> {
  const now = deps.now();
  return await deps.database.db.transaction(async (tx) => {
    const count = await revokeUserSessions(
      tx,
      auth.userId,
      "signed_out_elsewhere",
      now,
      auth.sessionId,
    );
    await recordAudit(tx, audit, {
      action: "auth.sessions_revoke_others",
      resourceType: "user",
      resourceId: auth.userId,
      outcome: "success",
      details: { revoked: count },
    });
    return count;
  });
}

/**
 * Ends the session a refresh token belongs to. Browsers sign out through this (their refresh
 * cookie reaches only the refresh path), so signing out works even after the 30-minute access
 * cookie has expired. A token already rotated still identifies its session, and ends it.
 */
export async function logoutWithRefreshToken(
  deps: AppDeps,
  audit: AuditContext,
  refreshToken: string,
): Promise<boolean> {
  const parts = splitToken(refreshToken);
  if (!parts) return false;
  const now = deps.now();
  return await deps.database.db.transaction(async (tx) => {
    const [row] = await tx
      .select({
        secretHash: refreshTokens.secretHash,
        sessionId: sessions.id,
        userId: sessions.userId,
        revokedAt: sessions.revokedAt,
      })
      .from(refreshTokens)
      .innerJoin(sessions, eq(sessions.id, refreshTokens.sessionId))
      .where(eq(refreshTokens.id, parts.id));
    if (!row || !hashesEqual(row.secretHash, hashToken(parts.secret))) return false;
    if (row.revokedAt) return true;
    await revokeSession(tx, row.sessionId, "logout", now);
    await recordAudit(tx, { ...audit, actor: { kind: "user", id: row.userId } }, {
      action: "auth.logout",
      resourceType: "session",
      resourceId: row.sessionId,
      outcome: "success",
    });
    return true;
  });
}
