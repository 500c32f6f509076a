import { lt } from "drizzle-orm";
import { oneTimeTokens } from "../../db/schema.ts";
import { pruneThrottles } from "../auth/throttle.ts";
import type { AppDeps } from "../deps.ts";
import { pruneMetrics } from "./host-metrics.ts";
import { pruneRateLimitCounters } from "./rate-limit-store-pg.ts";

const INTERVAL_MS = 60 * 60 * 1000;
// Kept a day past expiry so a support question about a failed link can still be looked into.
const EXPIRED_TOKEN_GRACE_MS = 24 * 60 * 60 * 1000;

/**
 * Deletes dead rows that only grow: spent throttle and rate-limit counters, expired tokens, host
 * metrics past their day.
 */
export async function runMaintenance(
  deps: AppDeps,
): Promise<{ throttles: number; tokens: number; rateLimits: number; metrics: number }> {
  const now = deps.now();
  const throttles = await pruneThrottles(deps.database.db, now);
  const tokens = await deps.database.db
    .delete(oneTimeTokens)
    .where(lt(oneTimeTokens.expiresAt, new Date(now.getTime() - EXPIRED_TOKEN_GRACE_MS)))
    .returning({ id: oneTimeTokens.id });
  const rateLimits = await pruneRateLimitCounters(deps.database.db, now);
  const metrics = await pruneMetrics(deps.database.db, now);
  return { throttles, tokens: tokens.length, rateLimits, metrics };
}

/** Runs {@link runMaintenance} now and hourly; failures are logged and retried next hour. */
export function startMaintenance(deps: AppDeps): () => void {
  const run = () =>
    runMaintenance(deps)
      .then((pruned) => deps.log.debug({ pruned }, "maintenance done"))
      .catch((err) => deps.log.error({ err }, "maintenance failed; retrying in an hour"));
  void run();
  const timer = setInterval(run, INTERVAL_MS);
  return () => clearInterval(timer);
}
