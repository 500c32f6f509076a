import { and, arrayContains, eq, sql } from "drizzle-orm";
import type { Tx } from "../../db/client.ts";
import { newId } from "../../db/ids.ts";
import { invitations, rolePermissions, roles, userRoles } from "../../db/schema.ts";
import type { Permission } from "../auth/permissions.ts";
import { type Access, requirePermission } from "../auth/route-access.ts";
import { sqlStateOf } from "../db-errors.ts";
import type { AppDeps } from "../deps.ts";
import { AppError } from "../errors.ts";
import { type AuditContext, recordAudit } from "./audit.ts";
import { live } from "./invitations.ts";
import { effectiveRolePermissions } from "./role-grants.ts";
import type { CreateRoleInput, UpdateRoleInput } from "./role-inputs.ts";
import {
  assertHolds,
  assertNameFree,
  assertNoCycle,
  assertParentVisible,
  cycleError,
  descendantsOf,
  parentGrants,
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

type RoleFields = Pick<RoleView, "name" | "description" | "parentId" | "permissions">;

/** The role's editable fields and direct grants, as audit rows record them. */
const auditFields = ({ name, description, parentId, permissions }: RoleFields) => ({
  name,
  description,
  parentId,
  permissions,
});

/** `auditFields` of a stored role, for when no view of it is at hand. */
async function snapshot(tx: Tx, row: RoleRow) {
  const direct = await tx.select({ p: rolePermissions.permission }).from(rolePermissions)
    .where(eq(rolePermissions.roleId, row.id));
  return auditFields({
    ...row,
    permissions: inCatalogueOrder(direct.map((d) => d.p as Permission)),
  });
}

/**
 * Runs a change to the tenant's roles under its lock; the DB's backstops (cycle trigger, unique
 * name) answer like the service.
 */
async function roleChange<T>(
  deps: AppDeps,
  audit: AuditContext,
  tenantId: string,
  subject: ChangeSubject,
  body: (tx: Tx) => Promise<T>,
): Promise<T> {
  try {
    return await auditedChange(deps, { ...audit, tenantId }, subject, async (tx) => {
      await lockTenant(tx, tenantId);
      return await body(tx);
    });
  } catch (err) {
    // Only reachable if the service's own checks missed something: answer as they would.
    const state = sqlStateOf(err);
    if (state === "23514") {
      throw cycleError("would make the role inherit from itself or nest more than 32 deep");
    }
    if (state === "23505") throw new AppError("conflict", "That role name is taken");
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
  return await roleChange(deps, audit, tenantId, subject, async (tx) => {
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
    const [view] = await roleViews(tx, tenantId, row.id);
    if (!view) throw new Error("created role not visible");
    await recordAudit(tx, { ...audit, tenantId }, {
      ...subject,
      resourceId: row.id,
      outcome: "success",
      details: auditFields(view),
    });
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
  return await roleChange(deps, audit, tenantId, subject, async (tx) => {
    const row = await getCustomRoleOrThrow(tx, tenantId, roleId);
    if (input.name !== undefined) await assertNameFree(tx, tenantId, input.name, roleId);
    if (input.parentId) {
      await assertParentVisible(tx, tenantId, input.parentId);
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
    const [view] = await roleViews(tx, tenantId, roleId);
    if (!view) throw roleNotFound();
    await recordAudit(tx, { ...audit, tenantId }, {
      ...subject,
      outcome: "success",
      details: { before: previous, after: auditFields(view) },
    });
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
  await roleChange(deps, audit, tenantId, subject, async (tx) => {
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
      live(deps.now()),
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
    await recordAudit(tx, { ...audit, tenantId }, { ...subject, outcome: "success", details });
  });
}
