import { eq } from "drizzle-orm";
import { backupCodes, users } from "../../db/schema.ts";
import { remainingBackupCodes, replaceBackupCodes } from "../auth/backup-codes.ts";
import { describeUserAgent, forgetDevice, listDevices } from "../auth/devices.ts";
import { verifyPassword } from "../auth/passwords.ts";
import {
  createTotpSetup,
  decryptTotpSecret,
  encryptTotpSecret,
  verifyAndConsumeTotp,
} from "../auth/totp.ts";
import type { AppDeps, RequestAuth } from "../deps.ts";
import { AppError } from "../errors.ts";
import { type AuditContext, recordAudit } from "./audit.ts";
import { setPassword } from "./users.ts";

async function userRow(deps: AppDeps, userId: string) {
  const [user] = await deps.database.db.select().from(users).where(eq(users.id, userId));
  if (!user) throw new AppError("unauthenticated", "The account no longer exists");
  return user;
}

async function requirePassword(deps: AppDeps, userId: string, password: string, field: string) {
  const user = await userRow(deps, userId);
  if (!(await verifyPassword(user.passwordHash, password))) {
    throw new AppError("invalid_input", `${field}: is not your current password`, {
      [field]: "is not your current password",
    });
  }
  return user;
}

/** Changes the caller's password (the current one is required) and signs out other sessions. */
export async function changePassword(
  deps: AppDeps,
  audit: AuditContext,
  auth: RequestAuth,
  input: { currentPassword: string; newPassword: string },
): Promise<void> {
  await requirePassword(deps, auth.userId, input.currentPassword, "currentPassword");
  await deps.database.db.transaction((tx) =>
    setPassword(tx, audit, {
      userId: auth.userId,
      email: auth.email,
      password: input.newPassword,
      keepSessionId: auth.sessionId,
      now: deps.now(),
    }, "auth.password_change")
  );
}

/**
 * Starts 2FA enrolment: a new secret is stored encrypted but not active until a code from it is
 * confirmed. Returns what the authenticator app needs; the secret is never shown again.
 */
export async function beginTotpSetup(deps: AppDeps, auth: RequestAuth) {
  const user = await userRow(deps, auth.userId);
  if (user.totpEnabledAt) throw new AppError("conflict", "Two-factor authentication is already on");
  const setup = createTotpSetup(user.email);
  const encrypted = await encryptTotpSecret(deps.secrets, user.id, setup.secret);
  await deps.database.db.update(users).set({ totpSecret: encrypted }).where(eq(users.id, user.id));
  return { secret: setup.manualKey, uri: setup.uri, qrSvg: setup.qrSvg };
}

/** Activates 2FA with a first valid code; returns the 10 backup codes, shown only this once. */
export async function enableTotp(
  deps: AppDeps,
  audit: AuditContext,
  auth: RequestAuth,
  code: string,
): Promise<{ backupCodes: string[] }> {
  const user = await userRow(deps, auth.userId);
  if (user.totpEnabledAt) throw new AppError("conflict", "Two-factor authentication is already on");
  if (!user.totpSecret) throw new AppError("conflict", "Start two-factor setup first");
  const secret = await decryptTotpSecret(deps.secrets, user.id, user.totpSecret);
  const now = deps.now();
  return await deps.database.db.transaction(async (tx) => {
    if (!(await verifyAndConsumeTotp(tx, { userId: user.id, secret, code, now }))) {
      throw new AppError("invalid_input", "code: is not valid for this secret", {
        code: "is not valid; check your device's clock",
      });
    }
    await tx.update(users).set({ totpEnabledAt: now }).where(eq(users.id, user.id));
    const codes = await replaceBackupCodes(tx, user.id, now);
    await recordAudit(tx, audit, {
      action: "auth.totp_enable",
      resourceType: "user",
      resourceId: user.id,
      outcome: "success",
    });
    return { backupCodes: codes };
  });
}

/** Turns 2FA off; needs the password and a current code, so a stolen session cannot. */
export async function disableTotp(
  deps: AppDeps,
  audit: AuditContext,
  auth: RequestAuth,
  input: { password: string; code: string },
): Promise<void> {
  const user = await requirePassword(deps, auth.userId, input.password, "password");
  if (!user.totpEnabledAt || !user.totpSecret) {
    throw new AppError("conflict", "Two-factor authentication is not on");
  }
  const secret = await decryptTotpSecret(deps.secrets, user.id, user.totpSecret);
  const now = deps.now();
  await deps.database.db.transaction(async (tx) => {
    if (!(await verifyAndConsumeTotp(tx, { userId: user.id, secret, code: input.code, now }))) {
      throw new AppError("invalid_input", "code: is not valid", { code: "is not valid" });
    }
    await tx.update(users).set({ totpEnabledAt: null, totpSecret: null }).where(
      eq(users.id, user.id),
    );
    await tx.delete(backupCodes).where(eq(backupCodes.userId, user.id));
    await recordAudit(tx, audit, {
      action: "auth.totp_disable",
      resourceType: "user",
      resourceId: user.id,
      outcome: "success",
    });
  });
}

/** Replaces the backup codes (the old ones stop working); needs the password. */
export async function regenerateBackupCodes(
  deps: AppDeps,
  audit: AuditContext,
  auth: RequestAuth,
  password: string,
): Promise<{ backupCodes: string[] }> {
  const user = await requirePassword(deps, auth.userId, password, "password");
  if (!user.totpEnabledAt) throw new AppError("conflict", "Two-factor authentication is not on");
  const now = deps.now();
  return await deps.database.db.transaction(async (tx) => {
    const codes = await replaceBackupCodes(tx, user.id, now);
    await recordAudit(tx, audit, {
      action: "auth.backup_codes_regenerate",
      resourceType: "user",
      resourceId: user.id,
      outcome: "success",
    });
    return { backupCodes: codes };
  });
}

/** 2FA state for the account page and `GET /api/v1/auth/2fa`. */
export async function totpStatus(deps: AppDeps, auth: RequestAuth) {
  const user = await userRow(deps, auth.userId);
  return {
    enabled: user.totpEnabledAt !== null,
    backupCodesRemaining: user.totpEnabledAt
      ? await remainingBackupCodes(deps.database.db, user.id)
      : 0,
  };
}

/** The caller's known browsers, for the account page and `GET /api/v1/auth/devices`. */
export async function listOwnDevices(deps: AppDeps, auth: RequestAuth) {
  const rows = await listDevices(deps.database.db, auth.userId);
  return rows.map((device) => ({
    id: device.id,
    browser: describeUserAgent(device.userAgent),
    firstSeenAt: device.firstSeenAt.toISOString(),
    lastSeenAt: device.lastSeenAt.toISOString(),
    lastIp: device.lastIp,
  }));
}

/**
 * Forgets one of the caller's devices, so the next sign-in from it counts as new again; another
 * user's device id is a plain 404.
 */
export async function forgetOwnDevice(
  deps: AppDeps,
  audit: AuditContext,
  auth: RequestAuth,
  deviceId: string,
): Promise<void> {
  await deps.database.db.transaction(async (tx) => {
    if (!(await forgetDevice(tx, auth.userId, deviceId))) {
      throw new AppError("not_found", `Device "${deviceId}" not found`);
    }
    await recordAudit(tx, audit, {
      action: "auth.device_forget",
      resourceType: "device",
      resourceId: deviceId,
      outcome: "success",
    });
  });
}
