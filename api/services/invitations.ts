import { and, asc, eq, gt, isNull } from "drizzle-orm";
import { newId } from "../../db/ids.ts";
import { invitations, memberships, users } from "../../db/schema.ts";
import { type Access, requirePermission } from "../auth/route-access.ts";
import { hashToken, randomSecret } from "../auth/tokens.ts";
import type { AppDeps } from "../deps.ts";
import { AppError } from "../errors.ts";
import { type AuditContext, recordAudit } from "./audit.ts";
import type {
  CreateInvitationInput,
  InvitationView,
  PendingInvitationView,
} from "./invitation-inputs.ts";
import { assertCanGrantRoles } from "./role-grants.ts";

/** An invitation link is good for 72 hours and one use. */
export const INVITATION_TTL_MS = 72 * 60 * 60 * 1000;

/** The one answer for unknown, used, revoked and expired links and for disabled accounts. */
export const INVALID_INVITATION = "This invitation link is invalid, used, revoked or expired";

/** One error for every dead link, so a probe learns nothing about which case it hit. */
export function invalidInvitation(): AppError {
  return new AppError("invalid_input", INVALID_INVITATION, {
    token: "is invalid, used, revoked or expired",
  });
}

// Neither accepted nor revoked: listed, revocable and superseded even once its link ran out.
function pending() {
  return and(isNull(invitations.acceptedAt), isNull(invitations.revokedAt));
}

/**
 * The rows a link may still be spent on; `now` goes through a column comparison so postgres-js
 * can encode the Date.
 */
export function live(now: Date) {
  return and(pending(), gt(invitations.expiresAt, now));
}

function view(row: typeof invitations.$inferSelect): InvitationView {
  return {
    id: row.id,
    email: row.email,
    roles: row.roleIds,
    expiresAt: row.expiresAt.toISOString(),
    createdAt: row.createdAt.toISOString(),
  };
}

/**
 * Invites `email` into the acting tenant with `roles` (`users.manage`, and only roles whose
 * permissions the inviter holds). A newer invitation for the same email revokes older pending
 * ones. Only the token's hash is stored; the link is returned once and never logged.
 */
export async function createInvitation(
  deps: AppDeps,
  audit: AuditContext,
  access: Access,
  input: CreateInvitationInput,
): Promise<{ invitation: InvitationView; link: string }> {
  requirePermission(access, "users.manage");
  const { tenantId } = access;
  const now = deps.now();
  const token = randomSecret(32);
  const row = await deps.database.db.transaction(async (tx) => {
    await assertCanGrantRoles(tx, access, input.roles);
    const [member] = await tx
      .select({ id: users.id })
      .from(users)
      .innerJoin(memberships, eq(memberships.userId, users.id))
      .where(and(eq(users.email, input.email), eq(memberships.tenantId, tenantId)));
    if (member) {
      throw new AppError("conflict", `${input.email} is already a member of this organisation`);
    }
    // Only the newest link works, so re-inviting also withdraws a link sent to the wrong place.
    const superseded = await tx
      .update(invitations)
      .set({ revokedAt: now })
      .where(and(
        eq(invitations.tenantId, tenantId),
        eq(invitations.email, input.email),
        pending(),
      ))
      .returning({ id: invitations.id });
    const [created] = await tx.insert(invitations).values({
      id: newId("inv"),
      tenantId,
      email: input.email,
      roleIds: input.roles,
      tokenHash: hashToken(token),
      invitedBy: access.auth.userId,
      createdAt: now,
      expiresAt: new Date(now.getTime() + INVITATION_TTL_MS),
    }).returning();
    if (!created) throw new Error("invitation insert returned no row");
    await recordAudit(tx, { ...audit, tenantId }, {
      action: "invitations.create",
      resourceType: "invitation",
      resourceId: created.id,
      outcome: "success",
      details: { email: input.email, roles: input.roles, superseded: superseded.map((r) => r.id) },
    });
    return created;
  });
  return { invitation: view(row), link: `${deps.config.publicUrl}/invite?token=${token}` };
}

/** The acting tenant's pending invitations (neither accepted nor revoked), oldest first. */
export async function listInvitations(
  deps: AppDeps,
  access: Access,
): Promise<PendingInvitationView[]> {
  requirePermission(access, "users.manage");
  const now = deps.now();
  const rows = await deps.database.db
    .select()
    .from(invitations)
    .where(and(eq(invitations.tenantId, access.tenantId), pending()))
    .orderBy(asc(invitations.createdAt), asc(invitations.id));
  return rows.map((row) => ({ ...view(row), expired: row.expiresAt <= now }));
}

/** Revokes a pending invitation; another tenant's answers exactly like a missing one (404). */
export async function revokeInvitation(
  deps: AppDeps,
  audit: AuditContext,
  access: Access,
  invitationId: string,
): Promise<void> {
  requirePermission(access, "users.manage");
  const { tenantId } = access;
  await deps.database.db.transaction(async (tx) => {
    const [row] = await tx
      .update(invitations)
      .set({ revokedAt: deps.now() })
      .where(and(
        eq(invitations.id, invitationId),
        eq(invitations.tenantId, tenantId),
        pending(),
      ))
      .returning({ id: invitations.id, email: invitations.email });
    if (!row) throw new AppError("not_found", "Invitation not found");
    await recordAudit(tx, { ...audit, tenantId }, {
      action: "invitations.revoke",
      resourceType: "invitation",
      resourceId: row.id,
      outcome: "success",
      details: { email: row.email },
    });
  });
}
