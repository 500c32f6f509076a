import { and, asc, eq, sql } from "drizzle-orm";
import type { Db, Tx } from "../../db/client.ts";
import { memberships, roles, userRoles, users } from "../../db/schema.ts";
import { type Access, requirePermission } from "../auth/route-access.ts";
import type { AppDeps } from "../deps.ts";
import { builtInRank, roleVisibleIn } from "./roles.ts";

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

const peopleColumns = {
  userId: memberships.userId,
  email: users.email,
  joinedAt: memberships.createdAt,
  totpEnabledAt: users.totpEnabledAt,
  disabledAt: users.disabledAt,
};
const heldColumns = {
  assignmentId: userRoles.id,
  userId: userRoles.userId,
  roleId: userRoles.roleId,
  roleName: roles.name,
  siteId: userRoles.siteId,
};
const heldOrder = [sql`${userRoles.siteId} nulls first`, asc(roles.name)];

interface PersonRow {
  userId: string;
  email: string;
  joinedAt: Date;
  totpEnabledAt: Date | null;
  disabledAt: Date | null;
}
type HeldRow = MemberRoleView & { userId: string };

function toViews(people: PersonRow[], held: HeldRow[]): MemberView[] {
  return people.map((p) => ({
    userId: p.userId,
    email: p.email,
    joinedAt: p.joinedAt.toISOString(),
    totpEnabled: p.totpEnabledAt !== null,
    disabled: p.disabledAt !== null,
    roles: held.filter((h) => h.userId === p.userId).map(({ userId: _, ...role }) => role),
  }));
}

/** One member with their roles here, read in the caller's transaction (after a change). */
export async function memberViews(tx: Tx, tenantId: string, userId: string): Promise<MemberView[]> {
  const people = await tx.select(peopleColumns).from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(eq(memberships.tenantId, tenantId), eq(memberships.userId, userId)));
  const held = await tx.select(heldColumns).from(userRoles)
    .innerJoin(roles, eq(roles.id, userRoles.roleId))
    .where(and(eq(userRoles.tenantId, tenantId), eq(userRoles.userId, userId)))
    .orderBy(...heldOrder);
  return toViews(people, held);
}

// The whole-tenant list is a hot read: its two queries are prepared once per database, since
// building drizzle queries costs more than running them (ARCHITECTURE §12).
const listStatements = new WeakMap<Db, ReturnType<typeof prepareList>>();

function prepareList(db: Db) {
  const tenantId = sql.placeholder("tenantId");
  return {
    people: db.select(peopleColumns).from(memberships)
      .innerJoin(users, eq(users.id, memberships.userId))
      .where(eq(memberships.tenantId, tenantId))
      .orderBy(asc(users.email))
      .prepare("caddis_member_people"),
    held: db.select(heldColumns).from(userRoles)
      .innerJoin(roles, eq(roles.id, userRoles.roleId))
      .where(eq(userRoles.tenantId, tenantId))
      .orderBy(...heldOrder)
      .prepare("caddis_member_roles"),
  };
}

/** The tenant's members and the roles each holds (`users.read`), ordered by email. */
export async function listMembers(deps: AppDeps, access: Access): Promise<MemberView[]> {
  requirePermission(access, "users.read");
  const db = deps.database.db;
  const statements = listStatements.get(db) ?? prepareList(db);
  listStatements.set(db, statements);
  // No transaction: a membership changing between the two reads only shifts which roles are
  // shown, and BEGIN/COMMIT would double the round trips of a hot list.
  const people = await statements.people.execute({ tenantId: access.tenantId });
  const held = await statements.held.execute({ tenantId: access.tenantId });
  return toViews(people, held);
}

/** A role that can be handed out here, for the panel's checkboxes. */
export interface AssignableRole {
  id: string;
  name: string;
  description: string;
  builtIn: boolean;
}

/**
 * The roles a member can be given or invited with here (`users.manage`): built-in ones, most
 * powerful first, then the tenant's own. Listed to anyone who assigns roles, even without
 * `roles.read`.
 */
export async function listAssignableRoles(
  deps: AppDeps,
  access: Access,
): Promise<AssignableRole[]> {
  requirePermission(access, "users.manage");
  const rows = await deps.database.db
    .select({
      id: roles.id,
      name: roles.name,
      description: roles.description,
      builtIn: roles.builtIn,
    })
    .from(roles)
    .where(roleVisibleIn(access.tenantId))
    .orderBy(asc(roles.name));
  return rows.sort((a, b) => builtInRank(a.id) - builtInRank(b.id));
}
