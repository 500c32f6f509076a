import { eq } from "drizzle-orm";
import type { Tx } from "../../db/client.ts";
import { newId } from "../../db/ids.ts";
import { oneTimeTokens, users } from "../../db/schema.ts";
import { recogniseDevice } from "../auth/devices.ts";
import { normalizeEmail, verifyAgainstDummy, verifyPassword } from "../auth/passwords.ts";
import { forgiveLoginAttempt, loginThrottleKeys, reserveLoginAttempt } from "../auth/throttle.ts";
import { hashToken, randomSecret } from "../auth/tokens.ts";
import type { AppDeps } from "../deps.ts";
import { type AuditContext, recordAudit, recordAuditNow } from "./audit.ts";
import { type IssuedTokens, startSession } from "./auth-tokens.ts";

/** The password step of a 2FA sign-in is good for 5 minutes and 5 wrong codes. */
export const MFA_TOKEN_TTL_MS = 5 * 60 * 1000;
export const MFA_MAX_ATTEMPTS = 5;

/** A signed-in result: tokens, plus the device cookie value the browser should keep. */
export interface SignedIn {
  kind: "signed_in";
  userId: string;
  sessionId: string;
  tokens: IssuedTokens;
  deviceToken: string;
  newDevice: boolean;
}

/** Every way a sign-in attempt can end; routes map each to one response. */
export type LoginResult =
  | SignedIn
  | { kind: "mfa_required"; mfaToken: string; expiresInSeconds: number }
  | { kind: "invalid" }
  | { kind: "throttled"; retryAfterSeconds: number };

/** Where the attempt comes from: audit context plus the browser's device cookie, if any. */
export interface LoginClient {
  audit: AuditContext;
  deviceToken?: string;
}

/**
 * Checks email and password. Unknown email and wrong password cost the same time and give the
 * same answer; failures count towards per-account and per-IP throttling.
 */
export async function login(
  deps: AppDeps,
  client: LoginClient,
  input: { email: string; password: string },
): Promise<LoginResult> {
  const { db } = deps.database;
  const now = deps.now();
  const email = normalizeEmail(input.email);
  const keys = loginThrottleKeys(email, client.audit.ip);
  // Counted before the password check and forgiven on success, so a parallel burst is throttled.
  const throttle = await reserveLoginAttempt(db, keys, now);
  if (!throttle.allowed) {
    return { kind: "throttled", retryAfterSeconds: throttle.retryAfterSeconds };
  }

  const [user] = await db.select().from(users).where(eq(users.email, email)).limit(1);
  const passwordOk = user
    ? await verifyPassword(user.passwordHash, input.password)
    : await verifyAgainstDummy(input.password);

  if (!user || !passwordOk || user.disabledAt) {
    const reason = !user ? "unknown_email" : !passwordOk ? "wrong_password" : "disabled";
    await recordAuditNow(db, { ...client.audit, actor: { kind: "anonymous" } }, {
      action: "auth.login",
      resourceType: "user",
      resourceId: user?.id,
      outcome: "failure",
      details: { email, reason },
    });
    return { kind: "invalid" };
  }

  if (user.totpEnabledAt) {
    const mfaToken = randomSecret(32);
    await db.transaction(async (tx) => {
      await forgiveLoginAttempt(tx, keys, now);
      await tx.insert(oneTimeTokens).values({
        id: newId("ott"),
        purpose: "mfa",
        userId: user.id,
        tokenHash: hashToken(mfaToken),
        createdAt: now,
        expiresAt: new Date(now.getTime() + MFA_TOKEN_TTL_MS),
      });
      await recordAudit(tx, { ...client.audit, actor: { kind: "user", id: user.id } }, {
        action: "auth.password_verified",
        resourceType: "user",
        resourceId: user.id,
        outcome: "success",
        details: { next: "mfa" },
      });
    });
    return { kind: "mfa_required", mfaToken, expiresInSeconds: MFA_TOKEN_TTL_MS / 1000 };
  }

  return db.transaction(async (tx) => {
    await forgiveLoginAttempt(tx, keys, now);
    return await completeSignIn(deps, tx, user.id, client, now, "password");
  });
}

/**
 * Finishes a sign-in whose factors all passed: clears the account throttle, recognises the
 * device (auditing a new one), starts the session and audits the login.
 */
export async function completeSignIn(
  deps: AppDeps,
  tx: Tx,
  userId: string,
  client: LoginClient,
  now: Date,
  method: "password" | "totp" | "backup_code",
): Promise<SignedIn> {
  const audit = { ...client.audit, actor: { kind: "user" as const, id: userId } };
  const device = await recogniseDevice(tx, {
    userId,
    deviceToken: client.deviceToken,
    userAgent: client.audit.userAgent,
    ip: client.audit.ip,
    now,
  });
  if (device.isNew) {
    await recordAudit(tx, audit, {
      action: "auth.new_device",
      resourceType: "device",
      resourceId: device.deviceId,
      outcome: "success",
      details: { userAgent: client.audit.userAgent, ip: client.audit.ip },
    });
  }
  const { sessionId, tokens } = await startSession(deps, tx, userId, {
    ip: client.audit.ip,
    userAgent: client.audit.userAgent,
    deviceId: device.deviceId,
  }, now);
  await recordAudit(tx, audit, {
    action: "auth.login",
    resourceType: "session",
    resourceId: sessionId,
    outcome: "success",
    details: { method },
  });
  return {
    kind: "signed_in",
    userId,
    sessionId,
    tokens,
    deviceToken: device.deviceToken,
    newDevice: device.isNew,
  };
}
