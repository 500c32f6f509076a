import { and, eq, gt, isNull, sql } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { memberships, sessions, tenants, users } from "../../db/schema.ts";
import { epochCache } from "./epoch-cache.ts";
import type { SessionUser } from "./sessions.ts";

/** A session's user together with the auth epoch the check went by (see epoch-cache.ts). */
export type CheckedSessionUser = SessionUser & { authEpoch: number };

// Writing last-seen on every request would turn every read into a write; once a minute is enough.
const LAST_SEEN_RESOLUTION_MS = 60_000;
// Bounds the cache's memory; past this many live sessions it starts afresh.
const MAX_CACHED_SESSIONS = 10_000;

interface CachedCheck {
  user: SessionUser;
  expiresAt: number;
  lastSeenAt: number;
}

/**
 * Builds the per-request session check, the hottest path of the API. The full check is one
 * prepared join; its answer is cached per session together with the auth epoch it was read
 * under. Triggers bump the epoch in the same transaction as any change a check depends on
 * (revocation, user, membership, tenant rule), so every request still reads the epoch, and a
 * revoked session or disabled user fails on the very next request, on every replica.
 */
export function sessionValidator(db: Db) {
  const lookup = db
    .select({
      email: users.email,
      isSuperuser: users.isSuperuser,
      totpEnabledAt: users.totpEnabledAt,
      tenantRequires2fa: sql<boolean>`exists (
        select 1 from ${memberships} join ${tenants} on ${tenants.id} = ${memberships.tenantId}
        where ${memberships.userId} = ${users.id} and ${tenants.require2fa})`,
      tenantIds: sql<string[]>`array(
        select ${memberships.tenantId} from ${memberships} where ${memberships.userId} = ${users.id}
        order by ${memberships.createdAt}, ${memberships.tenantId})`,
      expiresAt: sessions.expiresAt,
      lastSeenAt: sessions.lastSeenAt,
    })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(
      eq(sessions.id, sql.placeholder("sessionId")),
      eq(users.id, sql.placeholder("userId")),
      isNull(sessions.revokedAt),
      isNull(users.disabledAt),
      gt(sessions.expiresAt, sql.placeholder("now")),
    ))
    .prepare("caddis_session_check");
  const cache = epochCache<string, CachedCheck>(db, MAX_CACHED_SESSIONS);

  async function check(
    sessionId: string,
    userId: string,
    now: Date,
  ): Promise<CachedCheck | undefined> {
    // An ISO string, not a Date: postgres-js does not encode Dates bound to placeholders.
    const [row] = await lookup.execute({ sessionId, userId, now: now.toISOString() });
    if (!row) return undefined;
    return {
      user: {
        sessionId,
        userId,
        email: row.email,
        isSuperuser: row.isSuperuser,
        totpEnabled: row.totpEnabledAt !== null,
        mustEnrolTotp: row.totpEnabledAt === null && row.tenantRequires2fa,
        tenantIds: row.tenantIds,
      },
      expiresAt: row.expiresAt.getTime(),
      lastSeenAt: row.lastSeenAt.getTime(),
    };
  }

  /** The session's user when the session is live and belongs to `userId`, else undefined. */
  return async (
    sessionId: string,
    userId: string,
    now: Date,
  ): Promise<CheckedSessionUser | undefined> => {
    const authEpoch = await cache.readEpoch();
    const entry = await cache.get(
      sessionId,
      authEpoch,
      () => check(sessionId, userId, now),
      (cached) => cached.user.userId === userId && cached.expiresAt > now.getTime(),
    );
    if (!entry) return undefined;
    if (now.getTime() - entry.lastSeenAt > LAST_SEEN_RESOLUTION_MS) {
      entry.lastSeenAt = now.getTime();
      await db.update(sessions).set({ lastSeenAt: now }).where(eq(sessions.id, sessionId));
    }
    return { ...entry.user, authEpoch };
  };
}
