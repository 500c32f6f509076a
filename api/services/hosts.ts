// Hosts of a tenant: listing, revoking, and asking one to diagnose itself. Enrolment lives in
// host-enrolment.ts, command history and metrics in host-history.ts.
import { and, asc, eq, isNull } from "drizzle-orm";
import { hosts } from "../../db/schema.ts";
import { type Access, requirePermission } from "../auth/route-access.ts";
import type { AppDeps } from "../deps.ts";
import { issueCommand } from "./agent-command-outbox.ts";
import { newCommandView, signCommand } from "./agent-command-signing.ts";
import { cancelOpenCommands, type CommandView } from "./agent-commands.ts";
import { auditAppend, type AuditContext, recordAudit } from "./audit.ts";
import { notifyHostEvent } from "./host-events.ts";
import { getLiveHostOrThrow, type HostView, hostView } from "./host-view.ts";

/** The tenant's live hosts by name (`hosts.read`); revoked ones are gone from it. */
export async function listHosts(deps: AppDeps, access: Access): Promise<HostView[]> {
  requirePermission(access, "hosts.read");
  const rows = await deps.database.db.select().from(hosts)
    .where(and(eq(hosts.tenantId, access.tenantId), isNull(hosts.revokedAt)))
    .orderBy(asc(hosts.name));
  const now = deps.now();
  return rows.map((row) => hostView(row, now));
}

/** One live host of the tenant (`hosts.read`); another tenant's or a revoked one is a 404. */
export async function getHost(deps: AppDeps, access: Access, hostId: string): Promise<HostView> {
  requirePermission(access, "hosts.read");
  const row = await getLiveHostOrThrow(deps.database.db, access.tenantId, hostId);
  return hostView(row, deps.now());
}

/**
 * Revokes a host (`hosts.delete`): its key stops opening sockets, an unused enrolment token dies,
 * its open commands are cancelled, and the replica holding its socket closes it on the `revoked`
 * event, all when this transaction commits. The row stays for the audit trail.
 */
export async function revokeHost(
  deps: AppDeps,
  access: Access,
  audit: AuditContext,
  hostId: string,
): Promise<void> {
  requirePermission(access, "hosts.delete");
  const now = deps.now();
  await deps.database.db.transaction(async (tx) => {
    const host = await getLiveHostOrThrow(tx, access.tenantId, hostId, "update");
    await tx.update(hosts)
      .set({ revokedAt: now, enrolmentTokenHash: null, enrolmentExpiresAt: null })
      .where(eq(hosts.id, host.id));
    const cancelled = await cancelOpenCommands(tx, host.id, now, "host revoked");
    await notifyHostEvent(tx, { event: "revoked", hostId: host.id });
    await recordAudit(tx, { ...audit, tenantId: access.tenantId }, {
      action: "host.revoke",
      resourceType: "host",
      resourceId: host.id,
      outcome: "success",
      details: { name: host.name, cancelledCommands: cancelled },
    });
  });
}

/**
 * Queues `host.diagnose` (`hosts.update`): the agent refreshes its facts and tool inventory. A
 * newer request replaces one still queued, so pressing the button twice runs it once.
 */
export async function diagnoseHost(
  deps: AppDeps,
  access: Access,
  audit: AuditContext,
  hostId: string,
): Promise<CommandView> {
  requirePermission(access, "hosts.update");
  const command = await signCommand(deps, hostId, {
    siteId: null,
    kind: "host.diagnose",
    payload: {},
    issuedBy: access.auth.userId,
  });
  const audited = auditAppend({ ...audit, tenantId: access.tenantId }, {
    action: "host.diagnose",
    resourceType: "host",
    resourceId: hostId,
    outcome: "success",
    details: { commandId: command.id },
  });
  const live = { id: hostId, tenantId: access.tenantId };
  const { seq, direct } = await issueCommand(deps, command, { live }, audited);
  return newCommandView(command, seq, direct);
}
