import { and, arrayContains, eq, gt, inArray, isNull, ne, or, sql } from "drizzle-orm";
import type { Tx } from "../../db/client.ts";
import { newId } from "../../db/ids.ts";
import { rowsOf } from "../../db/migrate.ts";
import { invitations, rolePermissions, roles, tenants, userRoles } from "../../db/schema.ts";
import { missingPermissions } from "../auth/grants.ts";
import {
  ALL_PERMISSIONS,
  BUILT_IN_ROLES,
  type Permission,
  PERMISSIONS,
} from "../auth/permissions.ts";
import { type Access, requirePermission } from "../auth/route-access.ts";
import type { AppDeps } from "../deps.ts";
import { AppError } from "../errors.ts";
import { type AuditContext, recordAudit, recordAuditNow } from "./audit.ts";
import { effectiveRolePermissions } from "./role-grants.ts";
import type { CreateRoleInput, UpdateRoleInput } from "./role-inputs.ts";

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

type RoleRow = typeof roles.$inferSelect;

// One body for a missing role and another tenant's, so ids cannot be probed.
const roleNotFound = () => new AppError("not_found", "Role not found");
const parentNotFound = () => new AppError("not_found", "Parent role not found");

/**
 * Serialises changes to one tenant's roles and memberships: two edits that are each fine alone
 * (A inherits B, B inherits A; two owners removing each other) can no longer both commit.
 */
export async function lockTenant(tx: Tx, tenantId: string): Promise<void> {
  await tx.select({ id: tenants.id }).from(tenants).where(eq(tenants.id, tenantId))
    .for("no key update");
}

/** The role if it is built-in or the tenant's own; anything else is a 404 like a missing id. */
async function getVisibleRole(tx: Tx, tenantId: string, roleId: string) {
  const [row] = await tx.select().from(roles).where(and(
    eq(roles.id, roleId),
    or(isNull(roles.tenantId), eq(roles.tenantId, tenantId)),
  ));
  return row;
}

/** The tenant's custom role; a built-in role is a 403, anything else a 404. */
async function getCustomRoleOrThrow(tx: Tx, tenantId: string, roleId: string): Promise<RoleRow> {
  const row = await getVisibleRole(tx, tenantId, roleId);
  if (!row) throw roleNotFound();
  if (row.builtIn) throw new AppError("forbidden", "Built-in roles cannot be changed");
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
    or(isNull(roles.tenantId), eq(roles.tenantId, tenantId)),
  ));
  if (rows.length !== wanted.length) throw roleNotFound();
  return new Map(rows.map((r) => [r.id, r.name]));
}

const inCatalogueOrder = (set: Iterable<Permission>) => {
  const held = new Set(set);
  return ALL_PERMISSIONS.filter((p) => held.has(p));
};

const BUILT_IN_ORDER = new Map(BUILT_IN_ROLES.map((r, i) => [r.id, i]));

/** Built-in and the tenant's roles (or just `onlyId`), built-in first, most powerful first. */
async function roleViews(tx: Tx, tenantId: string, onlyId?: string): Promise<RoleView[]> {
  const rows = await tx.select().from(roles).where(and(
    or(isNull(roles.tenantId), eq(roles.tenantId, tenantId)),
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
  const rank = (r: RoleRow) => BUILT_IN_ORDER.get(r.id) ?? BUILT_IN_ROLES.length;
  rows.sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
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

/** The no-escalation rule for roles: nobody builds a role granting more than they hold. */
function assertHolds(access: Access, wanted: Iterable<Permission>, subject: string): void {
  const missing = missingPermissions(access.grants, wanted);
  if (missing.length > 0) {
    throw new AppError(
      "forbidden",
      `${subject} would grant permissions you do not hold yourself: ${missing.join(", ")}`,
    );
  }
}

/** Names compare without case, so "Owner" cannot pass for the built-in "owner". */
async function assertNameFree(tx: Tx, tenantId: string, name: string, exceptId?: string) {
  const [clash] = await tx.select({ builtIn: roles.builtIn }).from(roles).where(and(
    or(isNull(roles.tenantId), eq(roles.tenantId, tenantId)),
    sql`lower(${roles.name}) = lower(${name})`,
    exceptId === undefined ? undefined : ne(roles.id, exceptId),
  )).limit(1);
  if (clash?.builtIn) throw new AppError("conflict", `"${name}" is the name of a built-in role`);
  if (clash) throw new AppError("conflict", `A role named "${name}" already exists`);
}

/** Refuses a parent whose own ancestry already contains `roleId`: that would be a cycle. */
async function assertNoCycle(tx: Tx, roleId: string, parentId: string): Promise<void> {
  const result = await tx.execute(sql`
    with recursive up(id, parent_id, depth) as (
      select id, parent_id, 0 from roles where id = ${parentId}
      union all
      select r.id, r.parent_id, u.depth + 1 from up u join roles r on r.id = u.parent_id
       where u.depth < 32
    )
    select id from up`);
  if (rowsOf<{ id: string }>(result).some((r) => r.id === roleId)) throw cycleError();
}

/** The 400 for a parent chain that comes back to the role (or, from the DB, nests too deep). */
function cycleError(problem = "would make the role inherit from itself"): AppError {
  return new AppError("invalid_input", `Invalid parentId: ${problem}`, { parentId: problem });
}

/** The roles that inherit from `roleId`, directly or through others. */
async function descendantsOf(tx: Tx, roleId: string): Promise<string[]> {
  const result = await tx.execute(sql`
    with recursive down(id, depth) as (
      select id, 0 from roles where parent_id = ${roleId}
      union all
      select r.id, d.depth + 1 from down d join roles r on r.parent_id = d.id where d.depth < 32
    )
    select distinct id from down`);
  return rowsOf<{ id: string }>(result).map((r) => r.id);
}

/** The parent, checked to be built-in or the tenant's own, and the permissions it passes on. */
async function parentGrants(tx: Tx, tenantId: string, parentId: string | null | undefined) {
  if (!parentId) return new Set<Permission>();
  if (!(await getVisibleRole(tx, tenantId, parentId))) throw parentNotFound();
  return (await effectiveRolePermissions(tx, tenantId, [parentId])).get(parentId) ?? new Set();
}

/** The role's editable fields and direct grants, for audit rows. */
async function snapshot(tx: Tx, row: RoleRow) {
  const direct = await tx.select({ p: rolePermissions.permission }).from(rolePermissions)
    .where(eq(rolePermissions.roleId, row.id));
  const permissions = inCatalogueOrder(direct.map((d) => d.p as Permission));
  return { name: row.name, description: row.description, parentId: row.parentId, permissions };
}

/** The SQLSTATE of a database error, through the wrappers drivers and drizzle add. */
function sqlStateOf(err: unknown): string | undefined {
  for (let current = err, depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** What an audited change is about, before its outcome is known. */
export type ChangeSubject = { action: string; resourceType: string; resourceId?: string };

/**
 * Runs a change in one transaction. A refusal (403) rolls it back but is still recorded as
 * `denied`: someone trying to hand out more than they hold is worth a reviewer's look.
 */
export async function auditedChange<T>(
  deps: AppDeps,
  audit: AuditContext,
  subject: ChangeSubject,
  body: (tx: Tx) => Promise<T>,
): Promise<T> {
  try {
    return await deps.database.db.transaction(body);
  } catch (err) {
    if (err instanceof AppError && err.code === "forbidden") {
      await recordAuditNow(deps.database.db, audit, {
        ...subject,
        outcome: "denied",
        details: { reason: err.message },
      });
    }
    throw err;
  }
}

/** Runs a role change; the DB's backstops (cycle trigger, unique name) answer like the service. */
async function roleChange<T>(
  deps: AppDeps,
  audit: AuditContext,
  subject: ChangeSubject,
  body: (tx: Tx) => Promise<T>,
): Promise<T> {
  try {
    return await auditedChange(deps, audit, subject, body);
  } catch (err) {
    // Only reachable if the service's own checks missed something: answer as they would.
    if (sqlStateOf(err) === "23514") {
      throw cycleError("would make the role inherit from itself or nest more than 32 deep");
    }
    if (sqlStateOf(err) === "23505") throw new AppError("conflict", "That role name is taken");
    throw err;
  }
}

async function setPermissions(tx: Tx, roleId: string, permissions: readonly Permission[]) {
  await tx.delete(rolePermissions).where(eq(rolePermissions.roleId, roleId));
  if (permissions.length === 0) return;
  await tx.insert(rolePermissions).values(
    permissions.map((permission) => ({ roleId, permission })),
  );
}

/** Creates a custom role (`roles.manage`) granting nothing the actor does not hold. */
export async function createRole(
  deps: AppDeps,
  audit: AuditContext,
  access: Access,
  input: CreateRoleInput,
): Promise<RoleView> {
  requirePermission(access, "roles.manage");
  const { tenantId } = access;
  const subject = { action: "roles.create", resourceType: "role" };
  return await roleChange(deps, { ...audit, tenantId }, subject, async (tx) => {
    await lockTenant(tx, tenantId);
    await assertNameFree(tx, tenantId, input.name);
    const inherited = await parentGrants(tx, tenantId, input.parentId);
    assertHolds(access, [...input.permissions, ...inherited], `Role "${input.name}"`);
    const [row] = await tx.insert(roles).values({
      id: newId("rol"),
      tenantId,
      name: input.name,
      description: input.description ?? "",
      parentId: input.parentId ?? null,
    }).returning();
    if (!row) throw new Error("role insert returned no row");
    await setPermissions(tx, row.id, input.permissions);
    await recordAudit(tx, { ...audit, tenantId }, {
      action: "roles.create",
      resourceType: "role",
      resourceId: row.id,
      outcome: "success",
      details: await snapshot(tx, row),
    });
    const [view] = await roleViews(tx, tenantId, row.id);
    if (!view) throw new Error("created role not visible");
    return view;
  });
}

/**
 * Changes a custom role (`roles.manage`). The change is applied, then checked: the role's
 * resulting grants must all be the actor's, and so must whatever the roles inheriting from it
 * gain; otherwise the transaction rolls back with a 403.
 */
export async function updateRole(
  deps: AppDeps,
  audit: AuditContext,
  access: Access,
  roleId: string,
  input: UpdateRoleInput,
): Promise<RoleView> {
  requirePermission(access, "roles.manage");
  const { tenantId } = access;
  const subject = { action: "roles.update", resourceType: "role", resourceId: roleId };
  return await roleChange(deps, { ...audit, tenantId }, subject, async (tx) => {
    await lockTenant(tx, tenantId);
    const row = await getCustomRoleOrThrow(tx, tenantId, roleId);
    if (input.name !== undefined) await assertNameFree(tx, tenantId, input.name, roleId);
    if (input.parentId) {
      if (!(await getVisibleRole(tx, tenantId, input.parentId))) throw parentNotFound();
      await assertNoCycle(tx, roleId, input.parentId);
    }
    const heirs = await descendantsOf(tx, roleId);
    const before = await effectiveRolePermissions(tx, tenantId, heirs);
    const previous = await snapshot(tx, row);
    const [updated] = await tx.update(roles).set({
      name: input.name ?? row.name,
      description: input.description ?? row.description,
      parentId: input.parentId === undefined ? row.parentId : input.parentId,
    }).where(eq(roles.id, roleId)).returning();
    if (!updated) throw roleNotFound();
    if (input.permissions) await setPermissions(tx, roleId, input.permissions);
    const after = await effectiveRolePermissions(tx, tenantId, [roleId, ...heirs]);
    assertHolds(access, after.get(roleId) ?? [], `Role "${updated.name}"`);
    // Implied by the check above while inheritance is a plain union; kept so the rule stays
    // true if inheritance ever changes shape.
    for (const heir of heirs) {
      const had = before.get(heir) ?? new Set();
      const gained = [...(after.get(heir) ?? [])].filter((p) => !had.has(p));
      assertHolds(access, gained, `A role inheriting from "${updated.name}"`);
    }
    await recordAudit(tx, { ...audit, tenantId }, {
      action: "roles.update",
      resourceType: "role",
      resourceId: roleId,
      outcome: "success",
      details: { before: previous, after: await snapshot(tx, updated) },
    });
    const [view] = await roleViews(tx, tenantId, roleId);
    if (!view) throw roleNotFound();
    return view;
  });
}

/** Deletes a custom role nobody holds, inherits from or is invited with (`roles.manage`). */
export async function deleteRole(
  deps: AppDeps,
  audit: AuditContext,
  access: Access,
  roleId: string,
): Promise<void> {
  requirePermission(access, "roles.manage");
  const { tenantId } = access;
  const subject = { action: "roles.delete", resourceType: "role", resourceId: roleId };
  await roleChange(deps, { ...audit, tenantId }, subject, async (tx) => {
    await lockTenant(tx, tenantId);
    const row = await getCustomRoleOrThrow(tx, tenantId, roleId);
    const [held] = await tx
      .select({ n: sql<number>`count(distinct ${userRoles.userId})::int` })
      .from(userRoles).where(eq(userRoles.roleId, roleId));
    const holders = Number(held?.n ?? 0);
    if (holders > 0) {
      const who = holders === 1 ? "1 member" : `${holders} members`;
      throw new AppError("conflict", `Role "${row.name}" is held by ${who}; take it away first`);
    }
    const children = await tx.select({ name: roles.name }).from(roles)
      .where(eq(roles.parentId, roleId)).orderBy(roles.name);
    if (children.length > 0) {
      const names = children.map((c) => `"${c.name}"`).join(", ");
      throw new AppError(
        "conflict",
        `Role "${row.name}" is inherited by ${names}; give them another parent first`,
      );
    }
    // An invitation names roles by id; accepting it after the role went would fail.
    const [invited] = await tx.select({ email: invitations.email }).from(invitations).where(and(
      eq(invitations.tenantId, tenantId),
      isNull(invitations.acceptedAt),
      isNull(invitations.revokedAt),
      gt(invitations.expiresAt, deps.now()),
      arrayContains(invitations.roleIds, [roleId]),
    )).limit(1);
    if (invited) {
      throw new AppError(
        "conflict",
        `Role "${row.name}" is offered by a pending invitation to ${invited.email}; revoke it first`,
      );
    }
    const details = await snapshot(tx, row);
    await tx.delete(roles).where(eq(roles.id, roleId));
    await recordAudit(tx, { ...audit, tenantId }, {
      action: "roles.delete",
      resourceType: "role",
      resourceId: roleId,
      outcome: "success",
      details,
    });
  });
}
