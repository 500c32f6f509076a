import { and, eq, gt, isNull } from "drizzle-orm";
import { newId } from "../../db/ids.ts";
import { oneTimeTokens, users } from "../../db/schema.ts";
import { passwordProblem } from "../auth/passwords.ts";
import { hashToken, randomSecret } from "../auth/tokens.ts";
import type { AppDeps, RequestAuth } from "../deps.ts";
import { AppError } from "../errors.ts";
import { type AuditContext, recordAudit } from "./audit.ts";
import type { PasswordResetInput } from "./user-admin-inputs.ts";
import { getUserForUpdateOrThrow, invalidateUserTokens, requireSuperuser } from "./user-admin.ts";
import { setPassword } from "./users.ts";

/** An admin's reset link is good for one hour and one use. */
export const PASSWORD_RESET_TTL_MS = 60 * 60 * 1000;

// One answer for unknown, used, expired, wrong-purpose and disabled-account tokens alike, so a
// probe learns nothing about which of them it hit.
const INVALID_RESET_LINK =
  "The password reset link is invalid, already used or expired; ask an administrator for a new one";

function invalidResetLink(): AppError {
  return new AppError("invalid_input", `token: ${INVALID_RESET_LINK}`, {
    token: INVALID_RESET_LINK,
  });
}

// The row a reset token must match to be spent: right hash, right purpose, unused, unexpired.
// `now` goes through a column comparison so postgres-js can encode the Date.
function liveResetToken(tokenHash: string, now: Date) {
  return and(
    eq(oneTimeTokens.tokenHash, tokenHash),
    eq(oneTimeTokens.purpose, "password_reset"),
    isNull(oneTimeTokens.usedAt),
    gt(oneTimeTokens.expiresAt, now),
  );
}

/**
 * Issues a one-hour reset link for a user, replacing any earlier unused one. Only the token's
 * hash is stored; the URL is returned once, to be handed to the user, and is never logged.
 */
export async function issuePasswordReset(
  deps: AppDeps,
  audit: AuditContext,
  auth: RequestAuth,
  userId: string,
): Promise<{ resetUrl: string; expiresAt: Date }> {
  requireSuperuser(auth);
  const now = deps.now();
  const expiresAt = new Date(now.getTime() + PASSWORD_RESET_TTL_MS);
  const token = randomSecret(32);
  await deps.database.db.transaction(async (tx) => {
    const user = await getUserForUpdateOrThrow(tx, userId);
    if (user.disabledAt) {
      throw new AppError(
        "conflict",
        `The account ${user.email} is disabled; enable it before issuing a reset link`,
      );
    }
    await invalidateUserTokens(tx, userId, ["password_reset"], now);
    await tx.insert(oneTimeTokens).values({
      id: newId("ott"),
      purpose: "password_reset",
      userId,
      tokenHash: hashToken(token),
      data: { issuedBy: auth.userId },
      createdAt: now,
      expiresAt,
    });
    await recordAudit(tx, audit, {
      action: "auth.password_reset_issue",
      resourceType: "user",
      resourceId: userId,
      outcome: "success",
      details: { email: user.email, expiresAt: expiresAt.toISOString() },
    });
  });
  return { resetUrl: `${deps.config.publicUrl}/reset-password?token=${token}`, expiresAt };
}

/**
 * Spends a reset token and sets the new password, ending every session of the user. It does not
 * sign anyone in: the user then logs in normally, second factor included, so a reset link never
 * bypasses 2FA. A password the policy refuses leaves the token unspent.
 */
export async function completePasswordReset(
  deps: AppDeps,
  audit: AuditContext,
  input: PasswordResetInput,
): Promise<void> {
  const now = deps.now();
  const tokenHash = hashToken(input.token);
  await deps.database.db.transaction(async (tx) => {
    // Read first, so the policy (which needs the email) is checked before the token is spent.
    const [pending] = await tx
      .select({ userId: users.id, email: users.email, disabledAt: users.disabledAt })
      .from(oneTimeTokens)
      .innerJoin(users, eq(users.id, oneTimeTokens.userId))
      .where(liveResetToken(tokenHash, now));
    if (!pending || pending.disabledAt) throw invalidResetLink();
    const problem = passwordProblem(input.newPassword, pending.email);
    if (problem) {
      throw new AppError("invalid_input", `newPassword: ${problem}`, { newPassword: problem });
    }
    // The spend itself is one conditional UPDATE: of two racing requests only one gets the row.
    const [spent] = await tx
      .update(oneTimeTokens)
      .set({ usedAt: now })
      .where(liveResetToken(tokenHash, now))
      .returning({ userId: oneTimeTokens.userId });
    if (spent?.userId !== pending.userId) throw invalidResetLink();
    const userAudit: AuditContext = { ...audit, actor: { kind: "user", id: pending.userId } };
    // A 2FA sign-in half-done with the old password must not finish after the reset.
    await invalidateUserTokens(tx, pending.userId, ["mfa"], now);
    await setPassword(tx, userAudit, {
      userId: pending.userId,
      email: pending.email,
      password: input.newPassword,
      now,
    }, "auth.password_reset");
  });
}
