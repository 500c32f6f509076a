// What a host did and how it fared, for `hosts.read` holders: its command history and its usage
// over the last hours. Every read first checks the host is a live one of the caller's tenant.
import { type Access, requirePermission } from "../auth/route-access.ts";
import type { AppDeps } from "../deps.ts";
import { type CommandView, getHostCommand, listHostCommands } from "./agent-commands.ts";
import type { HostCommandsQuery } from "./host-inputs.ts";
import { type MetricPoint, metricSeries } from "./host-metrics.ts";
import { getLiveHostOrThrow } from "./host-view.ts";

const HOUR_MS = 60 * 60 * 1000;

/** A page of a host's commands, newest first (`hosts.read`). */
export async function listCommandsOfHost(
  deps: AppDeps,
  access: Access,
  hostId: string,
  page: HostCommandsQuery,
): Promise<CommandView[]> {
  requirePermission(access, "hosts.read");
  const db = deps.database.db;
  const host = await getLiveHostOrThrow(db, access.tenantId, hostId);
  return await listHostCommands(db, host.id, { limit: page.limit, beforeSeq: page.before });
}

/** One command of a host (`hosts.read`); one of another host is a 404. */
export async function getCommandOfHost(
  deps: AppDeps,
  access: Access,
  hostId: string,
  commandId: string,
): Promise<CommandView> {
  requirePermission(access, "hosts.read");
  const db = deps.database.db;
  const host = await getLiveHostOrThrow(db, access.tenantId, hostId);
  return await getHostCommand(db, host.id, commandId);
}

/** The host's usage samples of the last `hours`, oldest first (`hosts.read`). */
export async function hostMetricSeries(
  deps: AppDeps,
  access: Access,
  hostId: string,
  hours: number,
): Promise<MetricPoint[]> {
  requirePermission(access, "hosts.read");
  const db = deps.database.db;
  const host = await getLiveHostOrThrow(db, access.tenantId, hostId);
  return await metricSeries(db, host.id, new Date(deps.now().getTime() - hours * HOUR_MS));
}
