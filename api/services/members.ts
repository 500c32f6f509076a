import { and, eq, inArray, isNull, sql } from "drizzle-orm";
import type { Tx } from "../../db/client.ts";
import { newId } from "../../db/ids.ts";
import { memberships, sites, userRoles, users } from "../../db/schema.ts";
import {
  type Assignment,
  type Grants,
  grantsFromAssignments,
  missingPermissions,
} from "../auth/grants.ts";
import { OWNER_ROLE_ID } from "../auth/permissions.ts";
import { type Access, requirePermission } from "../auth/route-access.ts";
import type { AppDeps } from "../deps.ts";
import { AppError } from "../errors.ts";
import { type AuditContext, recordAudit } from "./audit.ts";
import { type MemberView, memberViews } from "./member-list.ts";
import { assertCanGrantRoles, effectiveRolePermissions } from "./role-grants.ts";
import type { SetMemberRolesInput } from "./role-inputs.ts";
import { visibleRoleNames } from "./roles.ts";
import { auditedChange, lockTenant } from "./tenant-changes.ts";

// One body for a user who is not a member here and one who does not exist at all.
const memberNotFound = () => new AppError("not_found", "Member not found");

/** The member (with their assignments here) or a 404 that does not say whether they exist. */
async function getMemberOrThrow(tx: Tx, tenantId: string, userId: string) {
  const [member] = await tx
    .select({ email: users.email, isSuperuser: users.isSuperuser })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(eq(memberships.tenantId, tenantId), eq(memberships.userId, userId)));
  if (!member) throw memberNotFound();
  const assignments: Assignment[] = await tx
    .select({ roleId: userRoles.roleId, siteId: userRoles.siteId })
    .from(userRoles)
    .where(and(eq(userRoles.tenantId, tenantId), eq(userRoles.userId, userId)));
  return { ...member, assignments };
}

/**
 * Nobody changes the membership of someone more powerful: the actor must hold everything the
 * member holds here, on the same sites. Superusers are exempt, and only they can touch another.
 */
function assertNotOutranked(access: Access, target: Grants, targetIsSuperuser: boolean): void {
  if (access.grants.superuser) return;
  if (targetIsSuperuser) {
    throw new AppError("forbidden", "Only a superuser can change a superuser's membership");
  }
  const missing = new Set(missingPermissions(access.grants, target.tenantWide));
  for (const [siteId, held] of target.bySite) {
    for (const permission of missingPermissions(access.grants, held, siteId)) {
      missing.add(permission);
    }
  }
  if (missing.size > 0) {
    throw new AppError(
      "forbidden",
      `This member holds permissions you do not: ${[...missing].join(", ")}`,
    );
  }
}

/** Locks the tenant, then loads the member, refusing when they hold more than the actor. */
async function lockMemberToChange(tx: Tx, access: Access, userId: string) {
  await lockTenant(tx, access.tenantId);
  const member = await getMemberOrThrow(tx, access.tenantId, userId);
  const roleIds = member.assignments.map((a) => a.roleId);
  const granted = await effectiveRolePermissions(tx, access.tenantId, roleIds);
  assertNotOutranked(
    access,
    grantsFromAssignments(member.assignments, granted),
    member.isSuperuser,
  );
  return member;
}

async function ownerCount(tx: Tx, tenantId: string): Promise<number> {
  const [row] = await tx
    .select({ n: sql<number>`count(distinct ${userRoles.userId})::int` })
    .from(userRoles)
    .where(and(
      eq(userRoles.tenantId, tenantId),
      eq(userRoles.roleId, OWNER_ROLE_ID),
      isNull(userRoles.siteId),
    ));
  return Number(row?.n ?? 0);
}

/** Refuses (rolling the change back) when it took away the tenant's last tenant-wide owner. */
async function assertOwnerRemains(tx: Tx, tenantId: string, ownersBefore: number) {
  if (ownersBefore > 0 && (await ownerCount(tx, tenantId)) === 0) {
    throw new AppError(
      "conflict",
      "The organisation must keep at least one owner: make someone else an owner first",
    );
  }
}

const listed = (list: Assignment[]) =>
  list.map(({ roleId, siteId }) => (siteId === null ? { roleId } : { roleId, siteId }));

/**
 * Replaces a member's roles in the tenant (`users.manage`). With `keepSiteRoles` the input lists
 * tenant-wide roles only and the member's site-scoped ones stay (the panel's form edits those).
 */
export async function setMemberRoles(
  deps: AppDeps,
  audit: AuditContext,
  access: Access,
  userId: string,
  input: SetMemberRolesInput,
  options: { keepSiteRoles?: boolean } = {},
): Promise<MemberView> {
  requirePermission(access, "users.manage");
  const { tenantId } = access;
  const subject = { action: "members.update_roles", resourceType: "user", resourceId: userId };
  return await auditedChange(deps, { ...audit, tenantId }, subject, async (tx) => {
    const member = await lockMemberToChange(tx, access, userId);
    const wanted: Assignment[] = input.roles.map((r) => ({
      roleId: r.roleId,
      siteId: r.siteId ?? null,
    }));
    if (options.keepSiteRoles) {
      const kept = member.assignments.filter((a) => a.siteId !== null);
      wanted.splice(0, wanted.length, ...wanted.filter((w) => w.siteId === null), ...kept);
    }
    await visibleRoleNames(tx, tenantId, wanted.map((w) => w.roleId));
    await assertSitesOfTenant(tx, tenantId, input.roles);
    // Each site's roles are checked against what the actor holds on that site.
    for (const siteId of new Set(wanted.map((w) => w.siteId))) {
      const group = wanted.filter((w) => w.siteId === siteId).map((w) => w.roleId);
      await assertCanGrantRoles(tx, access, group, siteId ?? undefined);
    }
    const ownersBefore = await ownerCount(tx, tenantId);
    const key = (a: Assignment) => `${a.roleId} ${a.siteId ?? ""}`;
    const keep = new Set(wanted.map(key));
    const have = new Set(member.assignments.map(key));
    for (const gone of member.assignments.filter((a) => !keep.has(key(a)))) {
      await tx.delete(userRoles).where(and(
        eq(userRoles.tenantId, tenantId),
        eq(userRoles.userId, userId),
        eq(userRoles.roleId, gone.roleId),
        gone.siteId === null ? isNull(userRoles.siteId) : eq(userRoles.siteId, gone.siteId),
      ));
    }
    const added = wanted.filter((w) => !have.has(key(w)));
    if (added.length > 0) {
      await tx.insert(userRoles).values(
        added.map((a) => ({ id: newId("ura"), tenantId, userId, ...a })),
      );
    }
    await assertOwnerRemains(tx, tenantId, ownersBefore);
    await recordAudit(tx, { ...audit, tenantId }, {
      action: "members.update_roles",
      resourceType: "user",
      resourceId: userId,
      outcome: "success",
      details: {
        email: member.email,
        before: listed(member.assignments),
        after: listed(wanted),
      },
    });
    const [view] = await memberViews(tx, tenantId, userId);
    if (!view) throw memberNotFound();
    return view;
  });
}

/** Removes someone from the tenant (`users.manage`); their roles and API tokens here go too. */
export async function removeMember(
  deps: AppDeps,
  audit: AuditContext,
  access: Access,
  userId: string,
): Promise<void> {
  requirePermission(access, "users.manage");
  const { tenantId } = access;
  const subject = { action: "members.remove", resourceType: "user", resourceId: userId };
  await auditedChange(deps, { ...audit, tenantId }, subject, async (tx) => {
    const member = await lockMemberToChange(tx, access, userId);
    const ownersBefore = await ownerCount(tx, tenantId);
    await tx.delete(memberships).where(and(
      eq(memberships.tenantId, tenantId),
      eq(memberships.userId, userId),
    ));
    await assertOwnerRemains(tx, tenantId, ownersBefore);
    await recordAudit(tx, { ...audit, tenantId }, {
      action: "members.remove",
      resourceType: "user",
      resourceId: userId,
      outcome: "success",
      details: { email: member.email, roles: listed(member.assignments) },
    });
  });
}

// A site-scoped role must name one of this tenant's sites; another tenant's looks like none.
async function assertSitesOfTenant(
  tx: Tx,
  tenantId: string,
  roles: { siteId?: string | undefined }[],
): Promise<void> {
  const named = [...new Set(roles.flatMap((r) => (r.siteId ? [r.siteId] : [])))];
  if (named.length === 0) return;
  const found = await tx.select({ id: sites.id }).from(sites)
    .where(and(eq(sites.tenantId, tenantId), inArray(sites.id, named)));
  const known = new Set(found.map((row) => row.id));
  const fields: Record<string, string> = {};
  roles.forEach((role, index) => {
    if (role.siteId && !known.has(role.siteId)) {
      fields[`roles.${index}.siteId`] = `no site "${role.siteId}" in this tenant`;
    }
  });
  if (Object.keys(fields).length > 0) {
    throw new AppError(
      "invalid_input",
      "A site-scoped role names a site that does not exist",
      fields,
    );
  }
}
