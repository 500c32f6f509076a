import { and, eq, inArray } from "drizzle-orm";
import type { Db, Tx } from "../../db/client.ts";
import { invitations, roles, tenants, users } from "../../db/schema.ts";
import { verifyPassword } from "../auth/passwords.ts";
import { forgiveLoginAttempt, loginThrottleKeys, reserveLoginAttempt } from "../auth/throttle.ts";
import { hashToken } from "../auth/tokens.ts";
import type { AppDeps } from "../deps.ts";
import { AppError } from "../errors.ts";
import { type AuditContext, recordAudit, recordAuditNow } from "./audit.ts";
import type {
  AcceptedInvitation,
  AcceptInvitationInput,
  InvitationPreview,
} from "./invitation-inputs.ts";
import { invalidInvitation, live } from "./invitations.ts";
import { addMembership } from "./membership.ts";
import { roleVisibleIn } from "./roles.ts";
import { checkNewCredentials, createUser } from "./users.ts";

// A live invitation with its tenant and the account its email already has, if any.
async function findLiveInvitation(db: Db, token: string, now: Date) {
  const [row] = await db
    .select({
      id: invitations.id,
      tenantId: invitations.tenantId,
      tenantName: tenants.name,
      email: invitations.email,
      roleIds: invitations.roleIds,
      userId: users.id,
      passwordHash: users.passwordHash,
      disabledAt: users.disabledAt,
    })
    .from(invitations)
    .innerJoin(tenants, eq(tenants.id, invitations.tenantId))
    .leftJoin(users, eq(users.email, invitations.email))
    .where(and(eq(invitations.tokenHash, hashToken(token)), live(now)));
  // A disabled account must not gain a way back in through an invitation.
  if (!row || row.disabledAt) throw invalidInvitation();
  return row;
}

/** What the accept page shows: organisation, email, and which password it should ask for. */
export async function previewInvitation(deps: AppDeps, token: string): Promise<InvitationPreview> {
  const row = await findLiveInvitation(deps.database.db, token, deps.now());
  return { tenantName: row.tenantName, email: row.email, accountExists: row.userId !== null };
}

type LiveInvitation = Awaited<ReturnType<typeof findLiveInvitation>>;

// The account's own password proves the invitee owns it; failures count like failed sign-ins.
async function checkAccountPassword(
  deps: AppDeps,
  audit: AuditContext,
  invitation: LiveInvitation,
  password: string,
  now: Date,
): Promise<string[]> {
  const { db } = deps.database;
  const keys = loginThrottleKeys(invitation.email, audit.ip);
  const throttle = await reserveLoginAttempt(db, keys, now);
  if (!throttle.allowed) {
    throw new AppError(
      "rate_limited",
      `Too many wrong passwords for ${invitation.email}; try again in ${throttle.retryAfterSeconds} s`,
      undefined,
      throttle.retryAfterSeconds,
    );
  }
  if (!(await verifyPassword(invitation.passwordHash ?? "", password))) {
    await recordAuditNow(db, { ...audit, tenantId: invitation.tenantId }, {
      action: "invitations.accept",
      resourceType: "invitation",
      resourceId: invitation.id,
      outcome: "failure",
      details: { email: invitation.email, reason: "wrong_password" },
    });
    throw new AppError(
      "unauthenticated",
      `Wrong password for ${invitation.email}: enter the password you sign in with`,
    );
  }
  return keys;
}

// The invitation's roles that still exist for its tenant (a custom role may have been deleted).
async function surviving(tx: Tx, tenantId: string, roleIds: string[]): Promise<string[]> {
  const rows = await tx
    .select({ id: roles.id })
    .from(roles)
    .where(and(inArray(roles.id, roleIds), roleVisibleIn(tenantId)));
  const found = new Set(rows.map((r) => r.id));
  return roleIds.filter((id) => found.has(id));
}

/**
 * Spends an invitation: the invitee proves an existing account with its password, or the
 * account is created with the password given. It never signs anyone in, so a second factor is
 * never bypassed. The token is spent in the same transaction as the membership is added.
 */
export async function acceptInvitation(
  deps: AppDeps,
  audit: AuditContext,
  input: AcceptInvitationInput,
): Promise<AcceptedInvitation> {
  const now = deps.now();
  const invitation = await findLiveInvitation(deps.database.db, input.token, now);
  const { tenantId, email } = invitation;
  // Slow checks (argon2, policy) run before the transaction, which then stays short.
  let throttleKeys: string[] | undefined;
  if (invitation.userId) {
    throttleKeys = await checkAccountPassword(deps, audit, invitation, input.password, now);
  } else {
    checkNewCredentials(email, input.password);
  }
  return await deps.database.db.transaction(async (tx) => {
    // One conditional UPDATE spends the token: of two racing accepts only one gets the row.
    const [spent] = await tx
      .update(invitations)
      .set({ acceptedAt: now })
      .where(and(eq(invitations.id, invitation.id), live(now)))
      .returning({ id: invitations.id });
    if (!spent) throw invalidInvitation();
    const userId = invitation.userId ??
      (await createUser(tx, { ...audit, tenantId }, {
        email,
        password: input.password,
        isSuperuser: false,
      })).id;
    await tx.update(invitations).set({ acceptedBy: userId }).where(eq(invitations.id, spent.id));
    const roleIds = await surviving(tx, tenantId, invitation.roleIds);
    await addMembership(tx, { tenantId, userId, roleIds });
    if (throttleKeys) await forgiveLoginAttempt(tx, throttleKeys, now);
    const accountCreated = invitation.userId === null;
    await recordAudit(tx, { ...audit, actor: { kind: "user", id: userId }, tenantId }, {
      action: "invitations.accept",
      resourceType: "invitation",
      resourceId: spent.id,
      outcome: "success",
      details: { email, roles: roleIds, accountCreated },
    });
    return { userId, tenantId, tenantName: invitation.tenantName, accountCreated };
  });
}
