import { ALL_PERMISSIONS, type Permission } from "../../api/auth/permissions.ts";
import type { Access } from "../../api/auth/route-access.ts";
import type { RequestAuth } from "../../api/deps.ts";
import { decodeBase32IgnorePadding } from "@oslojs/encoding";
import { generateHOTP } from "@oslojs/otp";
import { prepareSetup } from "../../api/services/setup.ts";
import type { TestApp } from "./app.ts";

/** A strong password that passes the policy; tests use it unless they test the policy. */
export const TEST_PASSWORD = "vivid-otter-parade-71";

/** Sends JSON to the test app, with an Origin of the app's own when cookies are passed. */
export function postJson(
  t: TestApp,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return Promise.resolve(t.app.request(path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  }));
}

/** Completes first-run setup and returns the superuser's tokens. */
export async function setupSuperuser(
  t: TestApp,
  email = "root@example.com",
): Promise<{ accessToken: string; refreshToken: string }> {
  const url = await prepareSetup(t.deps);
  if (!url) throw new Error("setup already done in this database");
  const token = new URL(url).searchParams.get("token") ?? "";
  const res = await postJson(t, "/api/v1/setup", {
    token,
    email,
    password: TEST_PASSWORD,
    tenantName: "Acme",
  });
  if (res.status !== 201) throw new Error(`setup failed: ${res.status} ${await res.text()}`);
  return await res.json() as { accessToken: string; refreshToken: string };
}

/** Bearer header for an access token. */
export function bearer(accessToken: string): Record<string, string> {
  return { authorization: `Bearer ${accessToken}` };
}

/** The TOTP code an authenticator app would show for `manualKey` at `at` (computed independently). */
export function totpCodeAt(manualKey: string, at: Date): string {
  return generateHOTP(
    decodeBase32IgnorePadding(manualKey),
    BigInt(Math.floor(at.getTime() / 30_000)),
    6,
  );
}

/** Turns 2FA on for the bearer of `accessToken`; returns the manual key and the backup codes. */
export async function enableTwoFactor(
  t: TestApp,
  accessToken: string,
): Promise<{ manualKey: string; backupCodes: string[] }> {
  const setup = await t.app.request("/api/v1/auth/2fa/setup", {
    method: "POST",
    headers: bearer(accessToken),
  });
  const { secret } = await setup.json() as { secret: string };
  const res = await postJson(t, "/api/v1/auth/2fa/enable", {
    code: totpCodeAt(secret, t.deps.now()),
  }, bearer(accessToken));
  if (res.status !== 200) throw new Error(`enable 2FA failed: ${res.status} ${await res.text()}`);
  const { backupCodes } = await res.json() as { backupCodes: string[] };
  return { manualKey: secret, backupCodes };
}

/** A signed-in superuser as services see one, for service tests that skip HTTP. */
export function superuserAuth(): RequestAuth {
  return {
    sessionId: "ses_root",
    userId: "usr_root",
    email: "root@example.com",
    isSuperuser: true,
    totpEnabled: false,
    mustEnrolTotp: false,
    tenantIds: [],
    via: "bearer",
  };
}

/** What a permission guard settles for a signed-in superuser, for service tests that skip HTTP. */
export function superuserAccess(tenantId = "ten_test"): Access {
  return {
    auth: superuserAuth(),
    tenantId,
    grants: { superuser: true, tenantWide: new Set(ALL_PERMISSIONS), bySite: new Map() },
  };
}

/**
 * A plain member's access holding exactly `permissions` in `tenantId`; pass `userId` when the
 * service writes rows that reference a real user (a host's creator, say).
 */
export function memberAccess(
  permissions: Permission[],
  tenantId = "ten_test",
  userId?: string,
): Access {
  const auth = superuserAuth();
  return {
    auth: { ...auth, userId: userId ?? auth.userId, isSuperuser: false, tenantIds: [tenantId] },
    tenantId,
    grants: { superuser: false, tenantWide: new Set(permissions), bySite: new Map() },
  };
}
