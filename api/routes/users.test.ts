import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { decodeBase32IgnorePadding } from "@oslojs/encoding";
import { generateTOTP } from "@oslojs/otp";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { bearer, postJson, setupSuperuser, TEST_PASSWORD } from "../../scripts/testing/auth.ts";
import { hashToken, randomSecret } from "../auth/tokens.ts";
import { createUser } from "../services/users.ts";

let t: TestApp;
// The app's clock; tests move it to expire reset links without waiting.
let clockOffsetMs = 0;
let root: { accessToken: string };
let rootId: string;

const NEW_PASSWORD = "quiet-harbour-lantern-58";
const INVALID_LINK = "invalid, already used or expired";

beforeAll(async () => {
  t = await createTestApp({ now: () => new Date(Date.now() + clockOffsetMs) });
  root = await setupSuperuser(t);
  rootId = (await (await me(root.accessToken)).json() as { id: string }).id;
});
afterAll(() => t.close());

const me = (token: string) => t.app.request("/api/v1/auth/me", { headers: bearer(token) });
const post = (path: string, token: string, body: unknown = {}) =>
  postJson(t, path, body, bearer(token));
const login = (email: string, password = TEST_PASSWORD) =>
  postJson(t, "/api/v1/auth/login", { email, password });
const resetWith = (token: string, newPassword = NEW_PASSWORD) =>
  postJson(t, "/api/v1/auth/password-reset", { token, newPassword });

/** A plain (non-superuser) account, created as an admin tool would, and its tokens. */
async function member(email: string) {
  const user = await t.database.db.transaction((tx) =>
    createUser(tx, { actor: { kind: "system" } }, {
      email,
      password: TEST_PASSWORD,
      isSuperuser: false,
    })
  );
  const res = await login(email);
  expect(res.status).toBe(200);
  const tokens = await res.json() as { accessToken: string; refreshToken: string };
  return { id: user.id, email, ...tokens };
}

async function issueReset(userId: string): Promise<string> {
  const res = await post(`/api/v1/users/${userId}/password-reset`, root.accessToken);
  expect(res.status).toBe(201);
  const body = await res.json() as { resetUrl: string; expiresAt: string };
  expect(body.resetUrl.startsWith(`${t.deps.config.publicUrl}/reset-password?token=`)).toBe(true);
  return new URL(body.resetUrl).searchParams.get("token") ?? "";
}

async function errorOf(res: Response) {
  return (await res.json() as { error: { code: string; message: string } }).error;
}

describe("who may manage users", () => {
  test("a non-superuser gets 403 on every admin route, and anonymous callers 401", async () => {
    const alice = await member("alice@example.com");
    const calls = [
      () => t.app.request("/api/v1/users", { headers: bearer(alice.accessToken) }),
      () => post(`/api/v1/users/${rootId}/disable`, alice.accessToken),
      () => post(`/api/v1/users/${alice.id}/enable`, alice.accessToken),
      () => post(`/api/v1/users/${rootId}/password-reset`, alice.accessToken),
      () => post(`/api/v1/users/usr_nonexistent/disable`, alice.accessToken),
    ];
    for (const call of calls) {
      const res = await call();
      expect(res.status).toBe(403);
      expect((await errorOf(res)).code).toBe("forbidden");
    }
    expect((await t.app.request("/api/v1/users")).status).toBe(401);
    const anon = await postJson(t, `/api/v1/users/${rootId}/password-reset`, {});
    expect(anon.status).toBe(401);
    // Nothing was changed by the refused calls: root still works, no reset link exists.
    expect((await me(root.accessToken)).status).toBe(200);
    const links = await t.database.rawSql(
      `select 1 from one_time_tokens where purpose = 'password_reset' and user_id = '${rootId}'`,
    );
    expect(links).toHaveLength(0);
  });

  test("the list shows every account and no hash, secret or token", async () => {
    await member("listed@example.com");
    const res = await t.app.request("/api/v1/users", { headers: bearer(root.accessToken) });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toMatch(/argon2|passwordHash|password_hash|totpSecret|tokenHash/i);
    const { users } = JSON.parse(text) as { users: Record<string, unknown>[] };
    const listed = users.find((u) => u.email === "listed@example.com");
    expect(Object.keys(listed ?? {}).sort()).toEqual(
      ["createdAt", "disabled", "email", "id", "isSuperuser", "totpEnabled"],
    );
    expect(listed).toMatchObject({ isSuperuser: false, disabled: false, totpEnabled: false });
    expect(users.find((u) => u.id === rootId)).toMatchObject({ isSuperuser: true });
  });
});

describe("disabling and enabling", () => {
  test("disabling kills the live access and refresh tokens at once; login fails like a wrong password", async () => {
    const bob = await member("bob@example.com");
    expect((await me(bob.accessToken)).status).toBe(200);

    const res = await post(`/api/v1/users/${bob.id}/disable`, root.accessToken);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: bob.id, disabled: true });

    expect((await me(bob.accessToken)).status).toBe(401);
    const refresh = await postJson(t, "/api/v1/auth/refresh", { refreshToken: bob.refreshToken });
    expect(refresh.status).toBe(401);
    const disabledLogin = await login(bob.email);
    const wrongPassword = await login("alice@example.com", "not-the-password-at-all");
    expect(disabledLogin.status).toBe(401);
    expect(await errorOf(disabledLogin)).toMatchObject({
      code: "unauthenticated",
      message: (await errorOf(wrongPassword)).message,
    });
    const audit = await t.database.rawSql(
      `select actor_id, details from audit_log where action = 'users.disable' and resource_id = '${bob.id}'`,
    );
    expect(audit).toEqual([{
      actor_id: rootId,
      details: { email: bob.email, sessionsRevoked: 1 },
    }]);
  });

  test("enabling lets the user sign in again, with their old password", async () => {
    const carol = await member("carol@example.com");
    await post(`/api/v1/users/${carol.id}/disable`, root.accessToken);
    expect((await login(carol.email)).status).toBe(401);
    const res = await post(`/api/v1/users/${carol.id}/enable`, root.accessToken);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: carol.id, disabled: false });
    expect((await login(carol.email)).status).toBe(200);
    // Sessions ended by the disable stay ended: enabling is not an undo for stolen tokens.
    expect((await me(carol.accessToken)).status).toBe(401);
    const rows = await t.database.rawSql(
      `select 1 from audit_log where action = 'users.enable' and resource_id = '${carol.id}'`,
    );
    expect(rows).toHaveLength(1);
  });

  test("a superuser cannot disable themselves", async () => {
    const res = await post(`/api/v1/users/${rootId}/disable`, root.accessToken);
    expect(res.status).toBe(409);
    expect((await errorOf(res)).message).toContain("cannot disable your own account");
    expect((await me(root.accessToken)).status).toBe(200);
  });

  test("unknown ids are 404 on every per-user route", async () => {
    for (const action of ["disable", "enable", "password-reset"]) {
      const res = await post(`/api/v1/users/usr_nobody/${action}`, root.accessToken);
      expect(res.status).toBe(404);
    }
  });

  test("disabling voids an outstanding reset link, and a disabled account gets no new one", async () => {
    const dave = await member("dave@example.com");
    const token = await issueReset(dave.id);
    await post(`/api/v1/users/${dave.id}/disable`, root.accessToken);
    expect((await post(`/api/v1/users/${dave.id}/password-reset`, root.accessToken)).status)
      .toBe(409);
    await post(`/api/v1/users/${dave.id}/enable`, root.accessToken);
    const res = await resetWith(token);
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toContain(INVALID_LINK);
  });
});

describe("admin password reset links", () => {
  test("a link works once, signs every session out and does not sign anyone in", async () => {
    const erin = await member("erin@example.com");
    const token = await issueReset(erin.id);
    const first = await resetWith(token);
    expect(first.status).toBe(204);
    expect(await first.text()).toBe("");
    expect(first.headers.get("set-cookie")).toBeNull();

    expect((await me(erin.accessToken)).status).toBe(401);
    expect((await login(erin.email)).status).toBe(401);
    expect((await login(erin.email, NEW_PASSWORD)).status).toBe(200);

    const second = await resetWith(token, "another-fine-password-42");
    expect(second.status).toBe(400);
    expect((await errorOf(second)).message).toContain(INVALID_LINK);
    expect((await login(erin.email, NEW_PASSWORD)).status).toBe(200);

    const actions = await t.database.rawSql(
      `select action, actor_id from audit_log where resource_id = '${erin.id}' order by seq`,
    );
    expect(actions).toContainEqual({ action: "auth.password_reset_issue", actor_id: rootId });
    expect(actions).toContainEqual({ action: "auth.password_reset", actor_id: erin.id });
  });

  test("an expired link fails with the same answer as a used or unknown one", async () => {
    const frank = await member("frank@example.com");
    const token = await issueReset(frank.id);
    clockOffsetMs = 60 * 60 * 1000 + 1000;
    try {
      const expired = await resetWith(token);
      const unknown = await resetWith(randomSecret(32));
      expect(expired.status).toBe(400);
      expect(unknown.status).toBe(400);
      expect((await errorOf(expired)).message).toBe((await errorOf(unknown)).message);
    } finally {
      clockOffsetMs = 0;
    }
    expect((await login(frank.email)).status).toBe(200);
  });

  test("a new link replaces the earlier unused one", async () => {
    const gina = await member("gina@example.com");
    const older = await issueReset(gina.id);
    const newer = await issueReset(gina.id);
    expect((await resetWith(older)).status).toBe(400);
    expect((await resetWith(newer)).status).toBe(204);
  });

  test("an mfa or setup token is not accepted as a reset token", async () => {
    const hank = await member("hank@example.com");
    const tokens = { mfa: randomSecret(32), setup: randomSecret(32) };
    for (const [purpose, token] of Object.entries(tokens)) {
      const userId = purpose === "setup" ? "null" : `'${hank.id}'`;
      await t.database.rawSql(
        `insert into one_time_tokens (id, purpose, user_id, token_hash, expires_at)
         values ('ott_${purpose}_${hank.id}', '${purpose}', ${userId}, '${hashToken(token)}',
                 now() + interval '1 hour')`,
      );
      const res = await resetWith(token);
      expect(res.status).toBe(400);
      expect((await errorOf(res)).message).toContain(INVALID_LINK);
    }
    const unspent = await t.database.rawSql(
      `select purpose from one_time_tokens where id like 'ott_%_${hank.id}' and used_at is null`,
    );
    expect(unspent).toHaveLength(2);
    expect((await login(hank.email)).status).toBe(200);
  });

  test("a weak password is refused naming the field, and the link still works afterwards", async () => {
    const ivy = await member("ivy@example.com");
    const token = await issueReset(ivy.id);
    for (const weak of ["password1234", "short", "ivy@example.com"]) {
      const res = await resetWith(token, weak);
      expect(res.status).toBe(400);
      const body = await res.json() as { error: { fields: Record<string, string> } };
      expect(Object.keys(body.error.fields)).toEqual(["newPassword"]);
    }
    expect((await me(ivy.accessToken)).status).toBe(200);
    expect((await resetWith(token)).status).toBe(204);
  });

  test("unknown fields are rejected", async () => {
    const res = await postJson(t, "/api/v1/auth/password-reset", {
      token: "x",
      newPassword: NEW_PASSWORD,
      userId: rootId,
    });
    expect(res.status).toBe(400);
  });

  test("after a reset, a 2FA user must still pass the second factor", async () => {
    const jack = await member("jack@example.com");
    const setup = await post("/api/v1/auth/2fa/setup", jack.accessToken);
    const { secret } = await setup.json() as { secret: string };
    const code = generateTOTP(decodeBase32IgnorePadding(secret), 30, 6);
    expect((await post("/api/v1/auth/2fa/enable", jack.accessToken, { code })).status).toBe(200);
    // A sign-in left at the second step with the old password must die with it.
    const pending = await login(jack.email);
    const { mfaToken } = await pending.json() as { mfaToken: string };

    expect((await resetWith(await issueReset(jack.id))).status).toBe(204);

    const res = await login(jack.email, NEW_PASSWORD);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ mfaRequired: true });
    const stale = await postJson(t, "/api/v1/auth/2fa/verify", { mfaToken, code: "000000" });
    expect(stale.status).toBe(401);
    expect((await errorOf(stale)).message).toContain("expired or is invalid");
  });

  test("the reset token never reaches the log or the audit trail", async () => {
    const kim = await member("kim@example.com");
    const token = await issueReset(kim.id);
    expect((await resetWith(token, "short")).status).toBe(400);
    expect((await resetWith(token)).status).toBe(204);
    expect((await resetWith(token)).status).toBe(400);
    expect(t.logText()).not.toContain(token);
    expect(t.logText()).not.toContain(hashToken(token));
    const audit = await t.database.rawSql(`select details::text as d from audit_log`);
    for (const row of audit) expect(String(row.d)).not.toContain(token);
  });
});
