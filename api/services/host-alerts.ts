// Alerts worth a look on the dashboard: a host offline for over two minutes, a disk over 90%
// full, a site whose worker keeps crashing. One open alert per host, kind and site; raising and
// resolving are audited as the system's acts.
import { and, desc, eq, isNotNull, isNull, sql } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { newId } from "../../db/ids.ts";
import { hostAlerts, hosts } from "../../db/schema.ts";
import type { AppDeps } from "../deps.ts";
import type { HostRef } from "./agent-commands.ts";
import { recordAudit } from "./audit.ts";

/** How long a host may stay silent before it counts as offline. */
export const OFFLINE_AFTER_MS = 2 * 60_000;

/** What an alert is about. */
export type AlertKind = "offline" | "disk_full" | "site_failed";

/** An open alert as the dashboard shows it. */
export interface AlertView {
  id: string;
  hostId: string;
  hostName: string;
  kind: AlertKind;
  /** The site a `site_failed` alert is about. */
  siteId: string | null;
  message: string;
  raisedAt: string;
}

/**
 * Opens an alert unless one of this kind is already open for the host (and site, for a site's
 * alert): then nothing changes.
 */
export async function raiseHostAlert(
  deps: AppDeps,
  host: HostRef,
  kind: AlertKind,
  message: string,
  siteId: string | null = null,
): Promise<void> {
  await deps.database.db.transaction(async (tx) => {
    // The partial unique index host_alerts_one_open makes a second open alert a silent no-op,
    // even when two replicas raise the same one at once.
    const [raised] = await tx.insert(hostAlerts).values({
      id: newId("alrt"),
      hostId: host.id,
      tenantId: host.tenantId,
      kind,
      siteId,
      message,
      raisedAt: deps.now(),
    }).onConflictDoNothing().returning({ id: hostAlerts.id });
    if (!raised) return;
    await recordAudit(tx, { actor: { kind: "system" }, tenantId: host.tenantId }, {
      action: "host.alert.raised",
      resourceType: "host",
      resourceId: host.id,
      outcome: "success",
      details: siteId ? { kind, siteId, message } : { kind, message },
    });
  });
}

/** Closes the host's (or its site's) open alert of this kind, if there is one. */
export async function resolveHostAlert(
  deps: AppDeps,
  host: HostRef,
  kind: AlertKind,
  siteId: string | null = null,
): Promise<void> {
  await deps.database.db.transaction(async (tx) => {
    const [resolved] = await tx.update(hostAlerts).set({ resolvedAt: deps.now() })
      .where(and(
        eq(hostAlerts.hostId, host.id),
        eq(hostAlerts.kind, kind),
        siteId === null ? isNull(hostAlerts.siteId) : eq(hostAlerts.siteId, siteId),
        isNull(hostAlerts.resolvedAt),
      ))
      .returning({ message: hostAlerts.message });
    if (!resolved) return;
    await recordAudit(tx, { actor: { kind: "system" }, tenantId: host.tenantId }, {
      action: "host.alert.resolved",
      resourceType: "host",
      resourceId: host.id,
      outcome: "success",
      details: siteId
        ? { kind, siteId, message: resolved.message }
        : { kind, message: resolved.message },
    });
  });
}

/** The tenant's open alerts on hosts still in service, newest first. */
export async function listOpenAlerts(db: Db, tenantId: string): Promise<AlertView[]> {
  const rows = await db.select({
    id: hostAlerts.id,
    hostId: hostAlerts.hostId,
    hostName: hosts.name,
    kind: hostAlerts.kind,
    siteId: hostAlerts.siteId,
    message: hostAlerts.message,
    raisedAt: hostAlerts.raisedAt,
  }).from(hostAlerts)
    .innerJoin(hosts, eq(hosts.id, hostAlerts.hostId))
    .where(and(
      eq(hostAlerts.tenantId, tenantId),
      isNull(hostAlerts.resolvedAt),
      isNull(hosts.revokedAt),
    ))
    .orderBy(desc(hostAlerts.raisedAt), desc(hostAlerts.id));
  return rows.map((row) => ({ ...row, raisedAt: row.raisedAt.toISOString() }));
}

/**
 * Raises `offline` for every enrolled, unrevoked host not heard from for over two minutes (one
 * that never connected counts from its enrolment), and resolves it for hosts heard from since.
 * Returns how many alerts it raised.
 */
export async function sweepOfflineHosts(deps: AppDeps): Promise<number> {
  const db = deps.database.db;
  const cutoff = new Date(deps.now().getTime() - OFFLINE_AFTER_MS).toISOString();
  const lastHeard = sql<Date>`coalesce(${hosts.lastSeenAt}, ${hosts.enrolledAt})`
    .mapWith(hosts.lastSeenAt);
  const openOffline =
    sql`exists (select 1 from ${hostAlerts} where ${hostAlerts.hostId} = ${hosts.id}
    and ${hostAlerts.kind} = 'offline' and ${hostAlerts.resolvedAt} is null)`;
  const live = and(isNotNull(hosts.enrolledAt), isNull(hosts.revokedAt));
  const columns = { id: hosts.id, tenantId: hosts.tenantId, name: hosts.name, lastHeard };
  const silent = await db.select(columns).from(hosts)
    .where(and(live, sql`${lastHeard} < ${cutoff}::timestamptz`, sql`not ${openOffline}`));
  for (const host of silent) {
    const message = `Host "${host.name}" has been offline since ${host.lastHeard.toISOString()}`;
    await raiseHostAlert(deps, host, "offline", message);
  }
  const back = await db.select(columns).from(hosts)
    .where(and(live, sql`${lastHeard} >= ${cutoff}::timestamptz`, openOffline));
  for (const host of back) await resolveHostAlert(deps, host, "offline");
  return silent.length;
}
