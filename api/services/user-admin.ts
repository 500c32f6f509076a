import { and, asc, eq, inArray, isNull } from "drizzle-orm";
import type { Tx } from "../../db/client.ts";
import { oneTimeTokens, users } from "../../db/schema.ts";
import { revokeUserSessions } from "../auth/sessions.ts";
import type { AppDeps, RequestAuth } from "../deps.ts";
import { AppError } from "../errors.ts";
import { type AuditContext, recordAudit } from "./audit.ts";

/** What admins see of an account: never a password hash, TOTP secret or token. */
export interface UserSummary {
  id: string;
  email: string;
  isSuperuser: boolean;
  disabled: boolean;
  totpEnabled: boolean;
  createdAt: Date;
}

const summaryColumns = {
  id: users.id,
  email: users.email,
  isSuperuser: users.isSuperuser,
  disabledAt: users.disabledAt,
  totpEnabledAt: users.totpEnabledAt,
  createdAt: users.createdAt,
};

/** The columns admin verbs read of a user. */
export interface SummaryRow {
  id: string;
  email: string;
  isSuperuser: boolean;
  disabledAt: Date | null;
  totpEnabledAt: Date | null;
  createdAt: Date;
}

function toSummary(row: SummaryRow): UserSummary {
  return {
    id: row.id,
    email: row.email,
    isSuperuser: row.isSuperuser,
    disabled: row.disabledAt !== null,
    totpEnabled: row.totpEnabledAt !== null,
    createdAt: row.createdAt,
  };
}

/** The user row, locked for the rest of the transaction; an unknown id is a 404. */
export async function getUserForUpdateOrThrow(tx: Tx, userId: string): Promise<SummaryRow> {
  const [row] = await tx.select(summaryColumns).from(users).where(eq(users.id, userId))
    .for("update");
  if (!row) throw new AppError("not_found", `No user with id "${userId}"`);
  return row;
}

/**
 * Accounts are instance-wide (one person may belong to several tenants), so disabling one or
 * resetting its password is a superuser's act; tenant admins manage memberships instead.
 */
export function requireSuperuser(auth: Pick<RequestAuth, "isSuperuser">): void {
  if (!auth.isSuperuser) {
    throw new AppError("forbidden", "Managing users needs a superuser account");
  }
}

/**
 * Marks a user's unused one-time tokens of these purposes as used, so a link or half-finished
 * 2FA sign-in issued before a disable or reset cannot be finished afterwards.
 */
export async function invalidateUserTokens(
  tx: Tx,
  userId: string,
  purposes: ("mfa" | "password_reset")[],
  now: Date,
): Promise<void> {
  await tx
    .update(oneTimeTokens)
    .set({ usedAt: now })
    .where(and(
      eq(oneTimeTokens.userId, userId),
      inArray(oneTimeTokens.purpose, purposes),
      isNull(oneTimeTokens.usedAt),
    ));
}

/** Every account, oldest first. */
export async function listUsers(deps: AppDeps, auth: RequestAuth): Promise<UserSummary[]> {
  requireSuperuser(auth);
  const rows = await deps.database.db
    .select(summaryColumns)
    .from(users)
    .orderBy(asc(users.createdAt), asc(users.id));
  return rows.map(toSummary);
}

/**
 * Disables an account: it can no longer sign in, and every session it has ends now, so its access
 * tokens fail on their next request. Disabling a disabled account changes nothing.
 */
export async function disableUser(
  deps: AppDeps,
  audit: AuditContext,
  auth: RequestAuth,
  userId: string,
): Promise<UserSummary> {
  requireSuperuser(auth);
  if (userId === auth.userId) {
    throw new AppError(
      "conflict",
      "You cannot disable your own account; another superuser has to do it",
    );
  }
  const now = deps.now();
  return await deps.database.db.transaction(async (tx) => {
    const user = await getUserForUpdateOrThrow(tx, userId);
    if (user.disabledAt) return toSummary(user);
    await tx.update(users).set({ disabledAt: now }).where(eq(users.id, userId));
    const sessionsRevoked = await revokeUserSessions(tx, userId, "users.disable", now);
    await invalidateUserTokens(tx, userId, ["mfa", "password_reset"], now);
    await recordAudit(tx, audit, {
      action: "users.disable",
      resourceType: "user",
      resourceId: userId,
      outcome: "success",
      details: { email: user.email, sessionsRevoked },
    });
    return toSummary({ ...user, disabledAt: now });
  });
}

/** Lets a disabled account sign in again (with its existing password and second factor). */
export async function enableUser(
  deps: AppDeps,
  audit: AuditContext,
  auth: RequestAuth,
  userId: string,
): Promise<UserSummary> {
  requireSuperuser(auth);
  return await deps.database.db.transaction(async (tx) => {
    const user = await getUserForUpdateOrThrow(tx, userId);
    if (!user.disabledAt) return toSummary(user);
    await tx.update(users).set({ disabledAt: null }).where(eq(users.id, userId));
    await recordAudit(tx, audit, {
      action: "users.enable",
      resourceType: "user",
      resourceId: userId,
      outcome: "success",
      details: { email: user.email },
    });
    return toSummary({ ...user, disabledAt: null });
  });
}
