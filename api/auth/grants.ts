import { eq, sql } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { rowsOf } from "../../db/migrate.ts";
import { authEpoch } from "../../db/schema.ts";
import { isPermission, type Permission } from "./permissions.ts";

/** What a caller may do in one tenant: tenant-wide grants, plus grants limited to single sites. */
export interface Grants {
  /** Superusers bypass every permission check (API tokens never carry this). */
  superuser: boolean;
  tenantWide: ReadonlySet<Permission>;
  bySite: ReadonlyMap<string, ReadonlySet<Permission>>;
}

/** Grants that allow nothing. */
export const NO_GRANTS: Grants = { superuser: false, tenantWide: new Set(), bySite: new Map() };

/**
 * Whether `grants` allow `permission`: tenant-wide, or for `siteId` when the action concerns one
 * site. Without `siteId` only tenant-wide grants count.
 */
export function can(grants: Grants, permission: Permission, siteId?: string): boolean {
  if (grants.superuser || grants.tenantWide.has(permission)) return true;
  return siteId !== undefined && (grants.bySite.get(siteId)?.has(permission) ?? false);
}

/** The permissions in `wanted` that `grants` do not allow (for `siteId`, when given). */
export function missingPermissions(
  grants: Grants,
  wanted: Iterable<Permission>,
  siteId?: string,
): Permission[] {
  return [...new Set(wanted)].filter((p) => !can(grants, p, siteId));
}

/** Narrows `grants` to `allowed`: what an API token may do is its list ∩ its owner's grants. */
export function restrictGrants(grants: Grants, allowed: ReadonlySet<Permission>): Grants {
  const keep = (set: ReadonlySet<Permission>) => new Set([...set].filter((p) => allowed.has(p)));
  return {
    superuser: false,
    tenantWide: grants.superuser ? new Set(allowed) : keep(grants.tenantWide),
    bySite: new Map([...grants.bySite].map(([site, set]) => [site, keep(set)])),
  };
}

// Bounds the cache's memory; past this many (user, tenant) pairs it starts afresh.
const MAX_CACHED_GRANTS = 10_000;

/** Loads a user's grants in a tenant (superuser flag excluded: the caller adds it). */
export type GrantsLoader = (userId: string, tenantId: string) => Promise<Grants>;

/**
 * Builds the grants loader: one recursive query follows every role the user holds in the tenant
 * up its parents and collects what they grant, tenant-wide or per site. Answers are cached per
 * auth epoch, which triggers bump whenever a role, grant or assignment changes, so a change
 * takes effect on the next request on every replica.
 */
export function grantsLoader(db: Db): GrantsLoader {
  const readEpoch = db
    .select({ epoch: authEpoch.epoch })
    .from(authEpoch)
    .where(eq(authEpoch.id, true))
    .prepare("caddis_grants_epoch");
  const cache = new Map<string, { epoch: number; grants: Grants }>();

  async function resolve(userId: string, tenantId: string): Promise<Grants> {
    const result = await db.execute(sql`
      with recursive chain(site_id, role_id, depth) as (
        select ur.site_id, ur.role_id, 0
          from user_roles ur join roles r on r.id = ur.role_id
         where ur.user_id = ${userId} and ur.tenant_id = ${tenantId}
           and (r.tenant_id is null or r.tenant_id = ur.tenant_id)
        union all
        select c.site_id, r.parent_id, c.depth + 1
          from chain c join roles r on r.id = c.role_id
         where r.parent_id is not null and c.depth < 32
      )
      select distinct c.site_id, rp.permission
        from chain c join role_permissions rp on rp.role_id = c.role_id`);
    const tenantWide = new Set<Permission>();
    const bySite = new Map<string, Set<Permission>>();
    for (const row of rowsOf<{ site_id: string | null; permission: string }>(result)) {
      if (!isPermission(row.permission)) continue;
      if (row.site_id === null) {
        tenantWide.add(row.permission);
        continue;
      }
      const site = bySite.get(row.site_id) ?? new Set<Permission>();
      site.add(row.permission);
      bySite.set(row.site_id, site);
    }
    return { superuser: false, tenantWide, bySite };
  }

  return async (userId, tenantId) => {
    const [current] = await readEpoch.execute();
    const epoch = current?.epoch ?? -1;
    const key = `${userId} ${tenantId}`;
    const cached = cache.get(key);
    if (cached?.epoch === epoch) return cached.grants;
    const grants = await resolve(userId, tenantId);
    if (cache.size >= MAX_CACHED_GRANTS) cache.clear();
    cache.set(key, { epoch, grants });
    return grants;
  };
}
