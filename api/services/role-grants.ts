import { and, eq, inArray, isNull, or } from "drizzle-orm";
import type { Tx } from "../../db/client.ts";
import { roles } from "../../db/schema.ts";
import { inheritedPermissions, missingPermissions } from "../auth/grants.ts";
import type { Permission } from "../auth/permissions.ts";
import type { Access } from "../auth/route-access.ts";
import { AppError } from "../errors.ts";

/**
 * What each of `roleIds` grants in `tenantId`, its parents' grants included. A role that is not
 * built-in and not the tenant's own is reported exactly like a missing one (404).
 */
export async function effectiveRolePermissions(
  tx: Tx,
  tenantId: string,
  roleIds: readonly string[],
): Promise<Map<string, Set<Permission>>> {
  const wanted = [...new Set(roleIds)];
  if (wanted.length === 0) return new Map();
  const visible = await tx
    .select({ id: roles.id })
    .from(roles)
    .where(and(
      inArray(roles.id, wanted),
      or(isNull(roles.tenantId), eq(roles.tenantId, tenantId)),
    ));
  const found = new Set(visible.map((r) => r.id));
  const unknown = wanted.filter((id) => !found.has(id));
  if (unknown.length > 0) throw new AppError("not_found", `Role "${unknown[0]}" not found`);
  return await inheritedPermissions(tx, tenantId, wanted);
}

/**
 * Refuses to hand out what the actor does not hold: every permission the roles grant (inherited
 * ones included) must be the actor's own, tenant-wide or, for a site-scoped grant, on that site.
 * This is what stops an admin from making someone (or themselves) an owner.
 */
export async function assertCanGrantRoles(
  tx: Tx,
  access: Access,
  roleIds: readonly string[],
  siteId?: string,
): Promise<Map<string, Set<Permission>>> {
  const granted = await effectiveRolePermissions(tx, access.tenantId, roleIds);
  const all = [...granted.values()].flatMap((set) => [...set]);
  const missing = missingPermissions(access.grants, all, siteId);
  if (missing.length > 0) {
    throw new AppError(
      "forbidden",
      `You cannot grant permissions you do not hold yourself: ${missing.join(", ")}`,
    );
  }
  return granted;
}
