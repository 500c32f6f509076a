// The rate-limit store that several API replicas share: one row per client, group and fixed
// window, bumped by a single upsert so concurrent requests on any replica never lose a count.
import { lt, sql } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { rateLimitCounters } from "../../db/schema.ts";
import type { RateLimitStore } from "../rate-limit-store.ts";

/** Counts requests in `rate_limit_counters`, for `CADDIS_RATE_LIMIT_STORE=postgres`. */
export function postgresRateLimitStore(db: Db): RateLimitStore {
  const t = rateLimitCounters;
  return {
    async hit(counters) {
      if (counters.length === 0) return [];
      // Callers pass counters in one order (shortest window first), so two requests of the
      // same client lock the same rows in the same order and cannot deadlock.
      const rows = await db
        .insert(t)
        .values(counters.map((c) => ({
          key: c.key,
          windowStart: c.windowStart,
          count: 1,
          expiresAt: new Date(c.windowStart.getTime() + c.windowSeconds * 1000),
        })))
        .onConflictDoUpdate({
          target: [t.key, t.windowStart],
          set: { count: sql`${t.count} + 1` },
        })
        .returning({ key: t.key, count: t.count });
      const byKey = new Map(rows.map((row) => [row.key, row.count]));
      return counters.map((c) => byKey.get(c.key) ?? 0);
    },
  };
}

/** Deletes counters whose window has ended; the hourly maintenance calls it. */
export async function pruneRateLimitCounters(db: Db, now: Date): Promise<number> {
  const removed = await db
    .delete(rateLimitCounters)
    .where(lt(rateLimitCounters.expiresAt, now))
    .returning({ key: rateLimitCounters.key });
  return removed.length;
}
