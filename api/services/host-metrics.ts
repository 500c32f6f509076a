// Usage samples agents report every 30 s: stored for a day, drawn as sparklines, and checked for
// a disk about to fill up.
import { and, asc, eq, gte, sql } from "drizzle-orm";
import type { MetricsSample } from "../../agent/protocol/host-report.ts";
import type { Db } from "../../db/client.ts";
import { rowsOf } from "../../db/migrate.ts";
import { hostMetrics } from "../../db/schema.ts";
import type { AppDeps } from "../deps.ts";
import type { HostRef } from "./agent-commands.ts";
import { raiseHostAlert, resolveHostAlert } from "./host-alerts.ts";

/** How long samples are kept. */
export const METRICS_RETENTION_MS = 24 * 60 * 60_000;
/** A disk fuller than this raises a `disk_full` alert. */
export const DISK_FULL_RATIO = 0.9;

/** One stored sample, JSON-ready: the same shape the agent sent. */
export type MetricPoint = MetricsSample;

/** Stores a sample (a repeated one is ignored) and raises or resolves the disk alert. */
export async function recordMetrics(
  deps: AppDeps,
  host: HostRef,
  sample: MetricsSample,
): Promise<void> {
  await deps.database.db.insert(hostMetrics)
    .values({ ...sample, hostId: host.id, at: new Date(sample.at) })
    .onConflictDoNothing();
  const used = sample.diskTotalBytes > 0 ? sample.diskUsedBytes / sample.diskTotalBytes : 0;
  if (used > DISK_FULL_RATIO) {
    const message = `Disk on host "${host.name}" is ${Math.round(used * 100)}% full`;
    await raiseHostAlert(deps, host, "disk_full", message);
  } else {
    await resolveHostAlert(deps, host, "disk_full");
  }
}

/** The host's samples taken at or after `since`, oldest first. */
export async function metricSeries(db: Db, hostId: string, since: Date): Promise<MetricPoint[]> {
  const rows = await db.select().from(hostMetrics)
    .where(and(eq(hostMetrics.hostId, hostId), gte(hostMetrics.at, since)))
    .orderBy(asc(hostMetrics.at));
  return rows.map(({ hostId: _, at, ...point }) => ({ ...point, at: at.toISOString() }));
}

/** Deletes samples older than the retention; returns how many. */
export async function pruneMetrics(db: Db, now: Date): Promise<number> {
  const cutoff = new Date(now.getTime() - METRICS_RETENTION_MS).toISOString();
  // Counted in the database: returning every deleted row would ship a day's worth of ids.
  const result = await db.execute(sql`with deleted as (
    delete from ${hostMetrics} where ${hostMetrics.at} < ${cutoff}::timestamptz returning 1
  ) select count(*)::int as count from deleted`);
  return Number(rowsOf<{ count: number }>(result)[0]?.count ?? 0);
}
