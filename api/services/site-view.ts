// How a site is shown by the API and the pages, and the lookups every site verb starts with: a
// site of another tenant is never found, so its existence does not leak.
import { and, asc, eq, inArray } from "drizzle-orm";
import type { HostWeb, SiteRuntime, SiteStatus } from "../../agent/protocol/sites.ts";
import type { Db, Tx } from "../../db/client.ts";
import { hosts, siteDomains, sites } from "../../db/schema.ts";
import { AppError } from "../errors.ts";

/** A site as the JSON API and pages show it; never its environment values. */
export interface SiteView {
  id: string;
  hostId: string;
  hostName: string;
  domain: string;
  aliases: string[];
  runtime: SiteRuntime;
  docroot: string;
  workerScript: string | null;
  /** The first of the site's pair of worker ports on the host's 127.0.0.1. */
  workerPort: number;
  /** The port of the pair the serving worker listens on, as last reported. */
  livePort: number | null;
  systemUser: string;
  envNames: string[];
  enabled: boolean;
  status: SiteStatus;
  lastError: string | null;
  statusAt: string | null;
  /** Absolute path of the document root on the host; null until the host said where sites live. */
  docrootPath: string | null;
  /** The port Caddy serves the site on: 80 in system mode, a high port in sandbox mode. */
  httpPort: number | null;
  createdAt: string;
  updatedAt: string;
}

/** A stored site row. */
export type SiteRow = typeof sites.$inferSelect;

/** Where a site's files are on its host: `<sitesDir>/<id>`. */
export function siteRootPath(web: HostWeb, siteId: string): string {
  return `${web.sitesDir}/${siteId}`;
}

/** The document root on the host: the current release, then the site's relative docroot. */
export function docrootPathOf(web: HostWeb, siteId: string, docroot: string): string {
  const current = `${siteRootPath(web, siteId)}/current`;
  return docroot === "" ? current : `${current}/${docroot}`;
}

/** The view of a row, given its names (primary first) and its host's name and web facts. */
export function siteView(
  row: SiteRow,
  domains: string[],
  host: { name: string; web: HostWeb | null },
): SiteView {
  return {
    id: row.id,
    hostId: row.hostId,
    hostName: host.name,
    domain: row.domain,
    aliases: domains.filter((domain) => domain !== row.domain),
    runtime: row.runtime,
    docroot: row.docroot,
    workerScript: row.workerScript,
    workerPort: row.port,
    livePort: row.livePort,
    systemUser: row.systemUser,
    envNames: row.envNames,
    enabled: row.enabled,
    status: row.status,
    lastError: row.lastError,
    statusAt: row.statusAt?.toISOString() ?? null,
    docrootPath: host.web ? docrootPathOf(host.web, row.id, row.docroot) : null,
    httpPort: host.web?.httpPort ?? null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** The site `siteId` of the tenant, or 404; `lock` takes the row for the caller's transaction. */
export async function getSiteOrThrow(
  db: Db | Tx,
  tenantId: string,
  siteId: string,
  lock?: "update",
): Promise<SiteRow> {
  const query = db.select().from(sites)
    .where(and(eq(sites.id, siteId), eq(sites.tenantId, tenantId)));
  const [row] = await (lock ? query.for(lock) : query);
  if (!row) throw new AppError("not_found", "Site not found");
  return row;
}

/** Each site's names in the order of the rows given (read them ordered by site and position). */
export function namesBySite(names: { siteId: string; domain: string }[]): Map<string, string[]> {
  const bySite = new Map<string, string[]>();
  for (const { siteId, domain } of names) {
    const list = bySite.get(siteId);
    if (list) list.push(domain);
    else bySite.set(siteId, [domain]);
  }
  return bySite;
}

/** Views of `rows`, with each one's names and host loaded in two queries for all of them. */
export async function siteViews(db: Db | Tx, rows: SiteRow[]): Promise<SiteView[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((row) => row.id);
  const hostIds = [...new Set(rows.map((row) => row.hostId))];
  const [names, hostRows] = await Promise.all([
    db.select({ siteId: siteDomains.siteId, domain: siteDomains.domain }).from(siteDomains)
      .where(inArray(siteDomains.siteId, ids))
      .orderBy(asc(siteDomains.siteId), asc(siteDomains.position)),
    db.select({ id: hosts.id, name: hosts.name, web: hosts.web }).from(hosts)
      .where(inArray(hosts.id, hostIds)),
  ]);
  const domainsOf = namesBySite(names);
  const hostOf = new Map(hostRows.map((host) => [host.id, host]));
  return rows.map((row) => {
    const host = hostOf.get(row.hostId);
    if (!host) throw new Error(`site ${row.id} has no host row`);
    return siteView(row, domainsOf.get(row.id) ?? [row.domain], host);
  });
}
