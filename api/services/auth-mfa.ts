import { and, eq, isNull } from "drizzle-orm";
import { oneTimeTokens, users } from "../../db/schema.ts";
import { consumeBackupCode } from "../auth/backup-codes.ts";
import {
  accountThrottleKey,
  checkThrottle,
  clearThrottle,
  loginThrottleKeys,
  recordLoginFailure,
} from "../auth/throttle.ts";
import { hashToken } from "../auth/tokens.ts";
import { decryptTotpSecret, verifyAndConsumeTotp } from "../auth/totp.ts";
import type { AppDeps } from "../deps.ts";
import { recordAudit } from "./audit.ts";
import { completeSignIn, type LoginClient, MFA_MAX_ATTEMPTS, type SignedIn } from "./auth-login.ts";

/** The outcome of the second step; a wrong code says how many tries the mfa token has left. */
export type MfaResult =
  | SignedIn
  | { kind: "invalid_token" }
  | { kind: "wrong_code"; attemptsLeft: number }
  | { kind: "throttled"; retryAfterSeconds: number };

/**
 * Completes a 2FA sign-in with a TOTP code or a backup code. The mfa token is bound to its user,
 * single-use, dies after 5 minutes or 5 wrong codes, and is accepted nowhere else.
 */
export async function completeMfa(
  deps: AppDeps,
  client: LoginClient,
  input: { mfaToken: string; code?: string; backupCode?: string },
): Promise<MfaResult> {
  const { db } = deps.database;
  const now = deps.now();
  return await db.transaction(async (tx): Promise<MfaResult> => {
    const [challenge] = await tx
      .select({
        id: oneTimeTokens.id,
        userId: oneTimeTokens.userId,
        failedAttempts: oneTimeTokens.failedAttempts,
        expiresAt: oneTimeTokens.expiresAt,
        email: users.email,
        totpSecret: users.totpSecret,
        disabledAt: users.disabledAt,
      })
      .from(oneTimeTokens)
      .innerJoin(users, eq(users.id, oneTimeTokens.userId))
      .where(and(
        eq(oneTimeTokens.tokenHash, hashToken(input.mfaToken)),
        eq(oneTimeTokens.purpose, "mfa"),
        isNull(oneTimeTokens.usedAt),
      ))
      .for("update", { of: oneTimeTokens });
    if (
      !challenge?.userId || challenge.expiresAt <= now || challenge.disabledAt ||
      challenge.failedAttempts >= MFA_MAX_ATTEMPTS
    ) {
      return { kind: "invalid_token" };
    }
    const userId = challenge.userId;
    const keys = loginThrottleKeys(challenge.email, client.audit.ip);
    const throttle = await checkThrottle(tx, keys, now);
    if (!throttle.allowed) {
      return { kind: "throttled", retryAfterSeconds: throttle.retryAfterSeconds };
    }

    const audit = { ...client.audit, actor: { kind: "user" as const, id: userId } };
    let method: "totp" | "backup_code";
    let ok = false;
    if (input.backupCode !== undefined) {
      method = "backup_code";
      ok = await consumeBackupCode(tx, userId, input.backupCode, now);
      if (ok) {
        await recordAudit(tx, audit, {
          action: "auth.backup_code_used",
          resourceType: "user",
          resourceId: userId,
          outcome: "success",
        });
      }
    } else {
      method = "totp";
      const secret = challenge.totpSecret &&
        (await decryptTotpSecret(deps.secrets, userId, challenge.totpSecret));
      ok = !!secret && await verifyAndConsumeTotp(tx, {
        userId,
        secret,
        code: input.code ?? "",
        now,
      });
    }

    if (!ok) {
      const failedAttempts = challenge.failedAttempts + 1;
      await tx
        .update(oneTimeTokens)
        .set({
          failedAttempts,
          usedAt: failedAttempts >= MFA_MAX_ATTEMPTS ? now : null,
        })
        .where(eq(oneTimeTokens.id, challenge.id));
      await recordLoginFailure(tx, keys, now);
      await recordAudit(tx, audit, {
        action: "auth.mfa",
        resourceType: "user",
        resourceId: userId,
        outcome: "failure",
        details: { method, attempt: failedAttempts },
      });
      return { kind: "wrong_code", attemptsLeft: Math.max(0, MFA_MAX_ATTEMPTS - failedAttempts) };
    }

    await tx.update(oneTimeTokens).set({ usedAt: now }).where(eq(oneTimeTokens.id, challenge.id));
    await clearThrottle(tx, accountThrottleKey(challenge.email), now);
    return completeSignIn(deps, tx, userId, client, now, method);
  });
}
