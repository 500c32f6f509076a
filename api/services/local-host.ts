// The `local` host: the machine the API runs on, served by the embedded agent. Enrolled once, in
// the first tenant, as soon as setup has created one.
import { asc, eq, sql } from "drizzle-orm";
import { hosts, tenants } from "../../db/schema.ts";
import type { AppDeps } from "../deps.ts";
import { recordAudit } from "./audit.ts";
import { createHostRecord, renewEnrolmentToken } from "./host-enrolment.ts";

/** The name the embedded agent's host gets. */
export const LOCAL_HOST_NAME = "local";

// Serialises preparation across replicas that each run an embedded agent against one database.
const LOCAL_HOST_LOCK_KEY = 7_242_180_611;

/** What the embedded agent should do next. */
export type LocalHostPlan =
  /** No tenant exists yet (setup not done): try again later. */
  | { kind: "no_tenant" }
  /** Someone revoked the local host: the embedded agent stays off. */
  | { kind: "revoked"; hostId: string }
  /** Run the agent; with `enrolToken` it must enrol (again) first. */
  | { kind: "run"; hostId: string; enrolToken: string | undefined };

/**
 * Decides how the embedded agent starts. `enrolledHostId` is the host id in the agent's state
 * file: when it is not the live local host's, or that host has no key yet, a fresh one-hour
 * enrolment token is issued for it (audited). A revoked local host is never recreated.
 */
export async function prepareLocalHost(
  deps: AppDeps,
  enrolledHostId: string | undefined,
): Promise<LocalHostPlan> {
  return await deps.database.db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${LOCAL_HOST_LOCK_KEY})`);
    const [local] = await tx
      .select({
        id: hosts.id,
        tenantId: hosts.tenantId,
        publicKey: hosts.publicKey,
        revokedAt: hosts.revokedAt,
      })
      .from(hosts)
      .where(eq(hosts.isLocal, true))
      .orderBy(sql`${hosts.revokedAt} is null desc`, asc(hosts.createdAt))
      .limit(1);
    const system = { actor: { kind: "system" as const } };
    if (local?.revokedAt) return { kind: "revoked", hostId: local.id };
    if (local) {
      if (local.publicKey && local.id === enrolledHostId) {
        return { kind: "run", hostId: local.id, enrolToken: undefined };
      }
      const { token } = await renewEnrolmentToken(tx, deps, local.id);
      await recordAudit(tx, { ...system, tenantId: local.tenantId }, {
        action: "host.reissue_enrolment",
        resourceType: "host",
        resourceId: local.id,
        outcome: "success",
        details: { name: LOCAL_HOST_NAME, embedded: true, rekey: local.publicKey !== null },
      });
      return { kind: "run", hostId: local.id, enrolToken: token };
    }
    const [tenant] = await tx
      .select({ id: tenants.id })
      .from(tenants)
      .orderBy(asc(tenants.createdAt), asc(tenants.id))
      .limit(1);
    if (!tenant) return { kind: "no_tenant" };
    const created = await createHostRecord(tx, deps, {
      tenantId: tenant.id,
      name: LOCAL_HOST_NAME,
      isLocal: true,
      createdBy: null,
    });
    await recordAudit(tx, { ...system, tenantId: tenant.id }, {
      action: "host.create",
      resourceType: "host",
      resourceId: created.host.id,
      outcome: "success",
      details: { name: LOCAL_HOST_NAME, embedded: true },
    });
    return { kind: "run", hostId: created.host.id, enrolToken: created.token };
  });
}
