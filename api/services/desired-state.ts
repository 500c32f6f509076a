// What a host should run, built whole from the database each time it is sent, with the revision
// that tells the agent whether anything changed since it last applied.
import { asc, eq, sql } from "drizzle-orm";
import type { DesiredState } from "../../agent/protocol/desired-state.ts";
import type { DesiredSite } from "../../agent/protocol/sites.ts";
import type { Db, Tx } from "../../db/client.ts";
import { hosts, siteDomains, sites } from "../../db/schema.ts";
import type { Secrets } from "../auth/secrets.ts";
import type { Config } from "../config.ts";
import { AppError } from "../errors.ts";
import { notifyHostEvent } from "./host-events.ts";
import { panelSite } from "./panel-site.ts";
import { openSiteEnv } from "./site-env.ts";
import { namesBySite } from "./site-view.ts";

/**
 * The host's full desired state at its current revision: every site on it, disabled ones too,
 * with their environments decrypted for the agent, and on the API's own host, the panel. Read in one snapshot, so a revision always
 * comes with exactly the sites that revision stands for.
 */
export async function desiredStateFor(
  deps: { database: { db: Db }; secrets: Secrets; config: Pick<Config, "publicUrl" | "port"> },
  hostId: string,
): Promise<DesiredState> {
  return await deps.database.db.transaction(async (tx) => {
    const [host] = await tx.select({ revision: hosts.desiredRevision, isLocal: hosts.isLocal })
      .from(hosts).where(eq(hosts.id, hostId));
    if (!host) throw new AppError("not_found", "Host not found");
    const rows = await tx.select().from(sites).where(eq(sites.hostId, hostId))
      .orderBy(asc(sites.id));
    const names = await tx.select({ siteId: siteDomains.siteId, domain: siteDomains.domain })
      .from(siteDomains).innerJoin(sites, eq(sites.id, siteDomains.siteId))
      .where(eq(sites.hostId, hostId))
      .orderBy(asc(siteDomains.siteId), asc(siteDomains.position));
    const domainsOf = namesBySite(names);
    const desiredSites: DesiredSite[] = [];
    for (const row of rows) {
      desiredSites.push({
        id: row.id,
        domains: domainsOf.get(row.id) ?? [row.domain],
        runtime: row.runtime,
        docroot: row.docroot,
        workerScript: row.workerScript,
        port: row.port,
        user: row.systemUser,
        env: await openSiteEnv(deps.secrets, row.id, row.envSecret),
        enabled: row.enabled,
      });
    }
    const panel = host.isLocal ? panelSite(deps.config) : null;
    return { hostId, revision: host.revision, sites: desiredSites, ...(panel ? { panel } : {}) };
  }, { isolationLevel: "repeatable read", accessMode: "read only" });
}

/**
 * Raises the host's desired revision after a change to what it should run, in the change's own
 * transaction, and tells the replica holding its socket to send the new state once it commits.
 * Returns the new revision.
 */
export async function bumpDesiredRevision(tx: Tx, hostId: string): Promise<number> {
  const [row] = await tx.update(hosts)
    .set({ desiredRevision: sql`${hosts.desiredRevision} + 1` })
    .where(eq(hosts.id, hostId))
    .returning({ revision: hosts.desiredRevision });
  if (!row) throw new AppError("not_found", "Host not found");
  await notifyHostEvent(tx, { event: "desired_state", hostId });
  return row.revision;
}
