import { and, ne, sql } from "drizzle-orm";
import type { Tx } from "../../db/client.ts";
import { rowsOf } from "../../db/migrate.ts";
import { roles } from "../../db/schema.ts";
import { missingPermissions } from "../auth/grants.ts";
import type { Permission } from "../auth/permissions.ts";
import type { Access } from "../auth/route-access.ts";
import { AppError } from "../errors.ts";
import { effectiveRolePermissions } from "./role-grants.ts";
import { getVisibleRole, roleVisibleIn } from "./roles.ts";

// The checks a role change must pass before it commits: no escalation, unique names, no cycles.

/** Refuses a parent that is missing or another tenant's, with one 404 for both. */
export async function assertParentVisible(tx: Tx, tenantId: string, parentId: string) {
  if (!(await getVisibleRole(tx, tenantId, parentId))) {
    throw new AppError("not_found", "Parent role not found");
  }
}

/** The no-escalation rule for roles: nobody builds a role granting more than they hold. */
export function assertHolds(access: Access, wanted: Iterable<Permission>, subject: string): void {
  const missing = missingPermissions(access.grants, wanted);
  if (missing.length > 0) {
    throw new AppError(
      "forbidden",
      `${subject} would grant permissions you do not hold yourself: ${missing.join(", ")}`,
    );
  }
}

/** Names compare without case, so "Owner" cannot pass for the built-in "owner". */
export async function assertNameFree(tx: Tx, tenantId: string, name: string, exceptId?: string) {
  const [clash] = await tx.select({ builtIn: roles.builtIn }).from(roles).where(and(
    roleVisibleIn(tenantId),
    sql`lower(${roles.name}) = lower(${name})`,
    exceptId === undefined ? undefined : ne(roles.id, exceptId),
  )).limit(1);
  if (clash?.builtIn) throw new AppError("conflict", `"${name}" is the name of a built-in role`);
  if (clash) throw new AppError("conflict", `A role named "${name}" already exists`);
}

/** Refuses a parent whose own ancestry already contains `roleId`: that would be a cycle. */
export async function assertNoCycle(tx: Tx, roleId: string, parentId: string): Promise<void> {
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
export function cycleError(problem = "would make the role inherit from itself"): AppError {
  return new AppError("invalid_input", `Invalid parentId: ${problem}`, { parentId: problem });
}

/** The roles that inherit from `roleId`, directly or through others. */
export async function descendantsOf(tx: Tx, roleId: string): Promise<string[]> {
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
export async function parentGrants(tx: Tx, tenantId: string, parentId: string | null | undefined) {
  if (!parentId) return new Set<Permission>();
  await assertParentVisible(tx, tenantId, parentId);
  return (await effectiveRolePermissions(tx, tenantId, [parentId])).get(parentId) ?? new Set();
}
