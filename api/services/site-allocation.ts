// What a site holds exclusively: its names, unique across every tenant, and its pair of worker
// ports, unique on its host. Both are claimed inside the site's own transaction.
import { and, asc, eq, inArray, ne, sql } from "drizzle-orm";
import type { Tx } from "../../db/client.ts";
import { siteDomains, sites } from "../../db/schema.ts";
import { sqlStateOf } from "../db-errors.ts";
import { AppError } from "../errors.ts";

// Serialises port allocation per host (keyed by host id), so two sites created at once on one
// host never pick the same pair; other hosts, and the host row itself, are not held up.
const PORT_LOCK_NAMESPACE = 72_421_806;

/** The lowest free pair in `range` on the host, for a site being created in `tx`. */
export async function allocateWorkerPort(
  tx: Tx,
  hostId: string,
  range: { first: number; last: number },
): Promise<number> {
  await tx.execute(
    sql`select pg_advisory_xact_lock(${PORT_LOCK_NAMESPACE}::int, hashtext(${hostId}))`,
  );
  const taken = await tx.select({ port: sites.port }).from(sites)
    .where(eq(sites.hostId, hostId))
    .orderBy(asc(sites.port));
  let candidate = range.first;
  for (const { port } of taken) {
    if (port > candidate) break;
    if (port === candidate) candidate += 2;
  }
  if (candidate + 1 > range.last) {
    throw new AppError(
      "conflict",
      `No free worker ports are left on this host (CADDIS_WORKER_PORTS ${range.first}-${range.last})`,
    );
  }
  return candidate;
}

/**
 * Makes `domains` (primary first) the site's names, replacing any it had. A name another site
 * holds, in any tenant, is a conflict that names it but says nothing about that site.
 */
export async function claimDomains(tx: Tx, siteId: string, domains: string[]): Promise<void> {
  const held = await tx.select({ domain: siteDomains.domain }).from(siteDomains)
    .where(and(inArray(siteDomains.domain, domains), ne(siteDomains.siteId, siteId)));
  if (held.length > 0) throw domainTaken(held.map((row) => row.domain));
  await tx.delete(siteDomains).where(eq(siteDomains.siteId, siteId));
  try {
    await tx.insert(siteDomains).values(domains.map((domain, position) => ({
      domain,
      siteId,
      isPrimary: position === 0,
      position,
    })));
  } catch (err) {
    // Another transaction claimed one of them after the check above.
    if (sqlStateOf(err) === "23505") throw domainTaken(domains);
    throw err;
  }
}

function domainTaken(domains: string[]): AppError {
  const names = domains.map((domain) => `"${domain}"`).join(", ");
  return new AppError(
    "conflict",
    domains.length === 1
      ? `The domain ${names} is already used by another site`
      : `One of the domains ${names} is already used by another site`,
  );
}
