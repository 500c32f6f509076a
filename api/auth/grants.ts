import { and, eq, sql } from "drizzle-orm";
import type { Db, Tx } from "../../db/client.ts";
import { rowsOf } from "../../db/migrate.ts";
import { userRoles } from "../../db/schema.ts";
import { epochCache } from "./epoch-cache.ts";
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

/**
 * Whether `grants` allow `permission` tenant-wide or on at least one site: enough to open a list
 * that the service then narrows to the sites allowed.
 */
export function canOnSomeSite(grants: Grants, permission: Permission): boolean {
  return can(grants, permission) ||
    [...grants.bySite.values()].some((held) => held.has(permission));
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

/** A role held by a user in a tenant: tenant-wide (`siteId` null) or on one site. */
export interface Assignment {
  roleId: string;
  siteId: string | null;
}

/**
 * What each of `roleIds` grants, its parents' grants included (up to 32 levels). A role neither
 * built-in nor `tenantId`'s own grants nothing: only a tampered row could assign one.
 */
export async function inheritedPermissions(
  db: Db | Tx,
  tenantId: string,
  roleIds: readonly string[],
): Promise<Map<string, Set<Permission>>> {
  const wanted = [...new Set(roleIds)];
  const result = new Map(wanted.map((id) => [id, new Set<Permission>()]));
  if (wanted.length === 0) return result;
  const rows = await db.execute(sql`
    with recursive chain(origin, role_id, depth) as (
      select r.id, r.id, 0 from roles r
       where r.id in ${wanted} and (r.tenant_id is null or r.tenant_id = ${tenantId})
      union all
      select c.origin, r.parent_id, c.depth + 1
        from chain c join roles r on r.id = c.role_id
       where r.parent_id is not null and c.depth < 32
    )
    select distinct c.origin, rp.permission
      from chain c join role_permissions rp on rp.role_id = c.role_id`);
  for (const row of rowsOf<{ origin: string; permission: string }>(rows)) {
    if (isPermission(row.permission)) result.get(row.origin)?.add(row.permission);
  }
  return result;
}

/** The grants `assignments` confer, given what each role grants (see `inheritedPermissions`). */
export function grantsFromAssignments(
  assignments: readonly Assignment[],
  granted: ReadonlyMap<string, ReadonlySet<Permission>>,
): Grants {
  const tenantWide = new Set<Permission>();
  const bySite = new Map<string, Set<Permission>>();
  for (const { roleId, siteId } of assignments) {
    const target = siteId === null ? tenantWide : bySite.get(siteId) ?? new Set<Permission>();
    for (const permission of granted.get(roleId) ?? []) target.add(permission);
    if (siteId !== null) bySite.set(siteId, target);
  }
  return { superuser: false, tenantWide, bySite };
}

// Bounds the cache's memory; past this many (user, tenant) pairs it starts afresh.
const MAX_CACHED_GRANTS = 10_000;

/**
 * Loads a user's grants in a tenant (superuser flag excluded: the caller adds it), under the
 * auth epoch the request was admitted under, or, without one, the epoch read now.
 */
export type GrantsLoader = (
  userId: string,
  tenantId: string,
  authEpoch?: number,
) => Promise<Grants>;

/**
 * Builds the grants loader: the user's assignments in the tenant, each role followed up its
 * parents. Answers are cached per auth epoch, which triggers bump whenever a role, grant or
 * assignment changes, so a change takes effect on the next request on every replica.
 */
export function grantsLoader(db: Db): GrantsLoader {
  const cache = epochCache<string, Grants>(db, MAX_CACHED_GRANTS);

  // One snapshot for both reads, so a concurrent change never yields a mix of before and after.
  const resolve = (userId: string, tenantId: string) =>
    db.transaction(async (tx) => {
      const assignments = await tx
        .select({ roleId: userRoles.roleId, siteId: userRoles.siteId })
        .from(userRoles)
        .where(and(eq(userRoles.userId, userId), eq(userRoles.tenantId, tenantId)));
      const roleIds = assignments.map((a) => a.roleId);
      return grantsFromAssignments(assignments, await inheritedPermissions(tx, tenantId, roleIds));
    }, { isolationLevel: "repeatable read", accessMode: "read only" });

  return async (userId, tenantId, authEpoch) => {
    const epoch = authEpoch ?? await cache.readEpoch();
    return await cache.get(`${userId} ${tenantId}`, epoch, () => resolve(userId, tenantId));
  };
}
