import { and, asc, eq, isNull, or, sql } from "drizzle-orm";
import type { Db, Tx } from "../../db/client.ts";
import { memberships, roles, userRoles, users } from "../../db/schema.ts";
import { BUILT_IN_ROLES } from "../auth/permissions.ts";
import { type Access, requirePermission } from "../auth/route-access.ts";
import type { AppDeps } from "../deps.ts";

/** One role a member holds here: tenant-wide, or on one site when `siteId` is set. */
export interface MemberRoleView {
  assignmentId: string;
  roleId: string;
  roleName: string;
  siteId: string | null;
}

/** A member of the tenant as the API shows them: never a password hash or a secret. */
export interface MemberView {
  userId: string;
  email: string;
  joinedAt: string;
  totpEnabled: boolean;
  disabled: boolean;
  roles: MemberRoleView[];
}

/** The tenant's members (or just `onlyUserId`) with their roles here, ordered by email. */
export async function memberViews(
  tx: Db | Tx,
  tenantId: string,
  onlyUserId?: string,
): Promise<MemberView[]> {
  const only = (column: typeof memberships.userId | typeof userRoles.userId) =>
    onlyUserId === undefined ? undefined : eq(column, onlyUserId);
  const people = await tx
    .select({
      userId: memberships.userId,
      email: users.email,
      joinedAt: memberships.createdAt,
      totpEnabledAt: users.totpEnabledAt,
      disabledAt: users.disabledAt,
    })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(eq(memberships.tenantId, tenantId), only(memberships.userId)))
    .orderBy(asc(users.email));
  const held = await tx
    .select({
      assignmentId: userRoles.id,
      userId: userRoles.userId,
      roleId: userRoles.roleId,
      roleName: roles.name,
      siteId: userRoles.siteId,
    })
    .from(userRoles)
    .innerJoin(roles, eq(roles.id, userRoles.roleId))
    .where(and(eq(userRoles.tenantId, tenantId), only(userRoles.userId)))
    .orderBy(sql`${userRoles.siteId} nulls first`, asc(roles.name));
  return people.map((p) => ({
    userId: p.userId,
    email: p.email,
    joinedAt: p.joinedAt.toISOString(),
    totpEnabled: p.totpEnabledAt !== null,
    disabled: p.disabledAt !== null,
    roles: held.filter((h) => h.userId === p.userId).map(({ userId: _, ...role }) => role),
  }));
}

/** The tenant's members and the roles each holds (`users.read`). */
export async function listMembers(deps: AppDeps, access: Access): Promise<MemberView[]> {
  requirePermission(access, "users.read");
  // No transaction: a membership changing between the two reads only shifts which roles are
  // shown, and BEGIN/COMMIT would double the round trips of a hot list.
  return await memberViews(deps.database.db, access.tenantId);
}

/** A role that can be handed out here, for the panel's checkboxes. */
export interface AssignableRole {
  id: string;
  name: string;
  builtIn: boolean;
}

/**
 * The roles a member can be given here (`users.manage`): built-in ones, most powerful first, then
 * the tenant's own. Listed to anyone who assigns roles, even without `roles.read`.
 */
export async function listAssignableRoles(
  deps: AppDeps,
  access: Access,
): Promise<AssignableRole[]> {
  requirePermission(access, "users.manage");
  const rows = await deps.database.db
    .select({ id: roles.id, name: roles.name, builtIn: roles.builtIn })
    .from(roles)
    .where(or(isNull(roles.tenantId), eq(roles.tenantId, access.tenantId)))
    .orderBy(asc(roles.name));
  const rank = (id: string) => {
    const index = BUILT_IN_ROLES.findIndex((r) => r.id === id);
    return index === -1 ? BUILT_IN_ROLES.length : index;
  };
  return rows.sort((a, b) => rank(a.id) - rank(b.id));
}
