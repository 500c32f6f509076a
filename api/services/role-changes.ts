import { and, arrayContains, eq, gt, isNull, sql } from "drizzle-orm";
import type { Tx } from "../../db/client.ts";
import { newId } from "../../db/ids.ts";
import { invitations, rolePermissions, roles, userRoles } from "../../db/schema.ts";
import type { Permission } from "../auth/permissions.ts";
import { type Access, requirePermission } from "../auth/route-access.ts";
import type { AppDeps } from "../deps.ts";
import { AppError } from "../errors.ts";
import { type AuditContext, recordAudit } from "./audit.ts";
import { effectiveRolePermissions } from "./role-grants.ts";
import type { CreateRoleInput, UpdateRoleInput } from "./role-inputs.ts";
import {
  assertHolds,
  assertNameFree,
  assertNoCycle,
  cycleError,
  descendantsOf,
  parentGrants,
  parentNotFound,
} from "./role-rules.ts";
import {
  getVisibleRole,
  inCatalogueOrder,
  roleNotFound,
  type RoleRow,
  type RoleView,
  roleViews,
} from "./roles.ts";
import { auditedChange, type ChangeSubject, lockTenant } from "./tenant-changes.ts";

/** The tenant's custom role; a built-in role is a 403, anything else a 404. */
async function getCustomRoleOrThrow(tx: Tx, tenantId: string, roleId: string): Promise<RoleRow> {
  const row = await getVisibleRole(tx, tenantId, roleId);
  if (!row) throw roleNotFound();
  if (row.builtIn) throw new AppError("forbidden", "Built-in roles cannot be changed");
  return row;
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
