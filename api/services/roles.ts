import { and, eq, inArray, isNull, or, sql } from "drizzle-orm";
import type { Tx } from "../../db/client.ts";
import { rolePermissions, roles, userRoles } from "../../db/schema.ts";
import {
  ALL_PERMISSIONS,
  BUILT_IN_ROLES,
  type Permission,
  PERMISSIONS,
} from "../auth/permissions.ts";
import { type Access, requirePermission } from "../auth/route-access.ts";
import type { AppDeps } from "../deps.ts";
import { AppError } from "../errors.ts";
import { effectiveRolePermissions } from "./role-grants.ts";

/** A role as the API shows it: what it grants itself, and with everything it inherits. */
export interface RoleView {
  id: string;
  name: string;
  description: string;
  builtIn: boolean;
  parentId: string | null;
  permissions: Permission[];
  effectivePermissions: Permission[];
  memberCount: number;
}

/** A role as stored. */
export type RoleRow = typeof roles.$inferSelect;

/** The 404 for a role: one body for a missing one and another tenant's, so ids cannot be probed. */
export const roleNotFound = () => new AppError("not_found", "Role not found");

/** The roles a tenant can see and use: the built-in ones and its own, never another tenant's. */
export const roleVisibleIn = (tenantId: string) =>
  or(isNull(roles.tenantId), eq(roles.tenantId, tenantId));

/** The role if it is built-in or the tenant's own; anything else is a 404 like a missing id. */
export async function getVisibleRole(tx: Tx, tenantId: string, roleId: string) {
  const [row] = await tx.select().from(roles).where(and(
    eq(roles.id, roleId),
    roleVisibleIn(tenantId),
  ));
  return row;
}

/** Names of `roleIds`, each built-in or the tenant's own, else a 404 that does not say which. */
export async function visibleRoleNames(
  tx: Tx,
  tenantId: string,
  roleIds: readonly string[],
): Promise<Map<string, string>> {
  const wanted = [...new Set(roleIds)];
  if (wanted.length === 0) return new Map();
  const rows = await tx.select({ id: roles.id, name: roles.name }).from(roles).where(and(
    inArray(roles.id, wanted),
    roleVisibleIn(tenantId),
  ));
  if (rows.length !== wanted.length) throw roleNotFound();
  return new Map(rows.map((r) => [r.id, r.name]));
}

/** `set`'s permissions in catalogue order, so views and audit rows list them alike. */
export const inCatalogueOrder = (set: Iterable<Permission>) => {
  const held = new Set(set);
  return ALL_PERMISSIONS.filter((p) => held.has(p));
};

const BUILT_IN_ORDER = new Map(BUILT_IN_ROLES.map((r, i) => [r.id, i]));

/** Where a role sorts in lists: built-in ones first, most powerful first, then custom ones. */
export const builtInRank = (roleId: string) => BUILT_IN_ORDER.get(roleId) ?? BUILT_IN_ROLES.length;

/** Built-in and the tenant's roles (or just `onlyId`), built-in first, most powerful first. */
export async function roleViews(tx: Tx, tenantId: string, onlyId?: string): Promise<RoleView[]> {
  const rows = await tx.select().from(roles).where(and(
    roleVisibleIn(tenantId),
    onlyId === undefined ? undefined : eq(roles.id, onlyId),
  ));
  const ids = rows.map((r) => r.id);
  if (ids.length === 0) return [];
  const direct = await tx.select().from(rolePermissions).where(
    inArray(rolePermissions.roleId, ids),
  );
  const effective = await effectiveRolePermissions(tx, tenantId, ids);
  const counts = await tx
    .select({ roleId: userRoles.roleId, n: sql<number>`count(distinct ${userRoles.userId})::int` })
    .from(userRoles)
    .where(and(eq(userRoles.tenantId, tenantId), inArray(userRoles.roleId, ids)))
    .groupBy(userRoles.roleId);
  rows.sort((a, b) => builtInRank(a.id) - builtInRank(b.id) || a.name.localeCompare(b.name));
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    description: r.description,
    builtIn: r.builtIn,
    parentId: r.parentId,
    permissions: inCatalogueOrder(
      direct.filter((d) => d.roleId === r.id).map((d) => d.permission as Permission),
    ),
    effectivePermissions: inCatalogueOrder(effective.get(r.id) ?? []),
    memberCount: Number(counts.find((c) => c.roleId === r.id)?.n ?? 0),
  }));
}

/** The permission catalogue, for building roles (`roles.read`). */
export function listPermissions(access: Access): { name: Permission; description: string }[] {
  requirePermission(access, "roles.read");
  return ALL_PERMISSIONS.map((name) => ({ name, description: PERMISSIONS[name] }));
}

/** Built-in roles and the tenant's custom roles (`roles.read`). */
export async function listRoles(deps: AppDeps, access: Access): Promise<RoleView[]> {
  requirePermission(access, "roles.read");
  return await deps.database.db.transaction((tx) => roleViews(tx, access.tenantId));
}

/** One visible role (`roles.read`); another tenant's is a 404 like a missing one. */
export async function getRole(deps: AppDeps, access: Access, roleId: string): Promise<RoleView> {
  requirePermission(access, "roles.read");
  const [view] = await deps.database.db.transaction((tx) => roleViews(tx, access.tenantId, roleId));
  if (!view) throw roleNotFound();
  return view;
}
