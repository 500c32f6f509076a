// Sites written straight into the database, for tests about something else (site-scoped roles,
// statuses) that need a real site row without going through the API and an agent.
import type { Db } from "../../db/client.ts";
import { newId } from "../../db/ids.ts";
import { siteDomains, sites } from "../../db/schema.ts";
import { systemUserOf } from "../../api/services/sites.ts";
import { insertEnrolledHost } from "./protocol-client.ts";

let nextPort = 30_000;

/**
 * Inserts a site on `hostId` (a fresh enrolled host of the tenant when omitted) answering to
 * `domain`; returns its id and host id.
 */
export async function insertTestSite(
  db: Db,
  tenantId: string,
  options: { id?: string; domain?: string; hostId?: string } = {},
): Promise<{ siteId: string; hostId: string }> {
  const siteId = options.id ?? newId("site");
  const hostId = options.hostId ??
    (await insertEnrolledHost(db, tenantId, `h-${siteId.slice(-8).toLowerCase()}`)).hostId;
  const domain = options.domain ?? `${siteId.slice(-10).toLowerCase().replace(/_/g, "-")}.test`;
  await db.insert(sites).values({
    id: siteId,
    tenantId,
    hostId,
    domain,
    runtime: "php-cli",
    docroot: "public",
    port: nextPort += 2,
    systemUser: systemUserOf(siteId),
  });
  await db.insert(siteDomains).values({ domain, siteId, isPrimary: true, position: 0 });
  return { siteId, hostId };
}
