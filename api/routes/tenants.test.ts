import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { memberships } from "../../db/schema.ts";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import {
  bearer,
  enableTwoFactor,
  postJson,
  setupSuperuser,
  TEST_PASSWORD,
} from "../../scripts/testing/auth.ts";
import { createUser } from "../services/users.ts";

let t: TestApp;
let rootToken: string;
let tenantId: string;

beforeAll(async () => {
  t = await createTestApp();
  rootToken = (await setupSuperuser(t)).accessToken;
  await enableTwoFactor(t, rootToken);
  const list = await t.app.request("/api/v1/tenants", { headers: bearer(rootToken) });
  tenantId = ((await list.json()) as { tenants: { id: string }[] }).tenants[0]?.id ?? "";
  await t.deps.database.db.transaction(async (tx) => {
    const member = await createUser(tx, { actor: { kind: "system" } }, {
      email: "dev@example.com",
      password: TEST_PASSWORD,
      isSuperuser: false,
    });
    await tx.insert(memberships).values({ tenantId, userId: member.id });
  });
});
afterAll(() => t.close());

const patchTenant = (token: string, body: unknown) =>
  t.app.request(`/api/v1/tenants/${tenantId}`, {
    method: "PATCH",
    headers: { ...bearer(token), "content-type": "application/json" },
    body: JSON.stringify(body),
  });

async function memberToken(): Promise<string> {
  const res = await postJson(t, "/api/v1/auth/login", {
    email: "dev@example.com",
    password: TEST_PASSWORD,
  });
  return ((await res.json()) as { accessToken: string }).accessToken;
}

describe("tenant-wide 2FA requirement", () => {
  test("only a superuser can set it", async () => {
    const res = await patchTenant(await memberToken(), { require2fa: true });
    expect(res.status).toBe(403);
  });

  test("an unknown tenant is a 404", async () => {
    const res = await t.app.request("/api/v1/tenants/ten_nope", {
      method: "PATCH",
      headers: { ...bearer(rootToken), "content-type": "application/json" },
      body: JSON.stringify({ require2fa: true }),
    });
    expect(res.status).toBe(404);
  });

  test("holds members without 2FA at enrolment until they enable it", async () => {
    expect((await patchTenant(rootToken, { require2fa: true })).status).toBe(200);
    const token = await memberToken();
    const blocked = await t.app.request("/api/v1/tenants", { headers: bearer(token) });
    expect(blocked.status).toBe(403);
    expect(((await blocked.json()) as { error: { message: string } }).error.message)
      .toContain("two-factor");
    expect((await t.app.request("/api/v1/auth/me", { headers: bearer(token) })).status).toBe(200);

    await enableTwoFactor(t, token);
    const allowed = await t.app.request("/api/v1/tenants", { headers: bearer(token) });
    expect(allowed.status).toBe(200);
  });

  test("lists the tenant with its 2FA requirement", async () => {
    const res = await t.app.request("/api/v1/tenants", { headers: bearer(rootToken) });
    const { tenants } = (await res.json()) as { tenants: { id: string; require2fa: boolean }[] };
    expect(tenants).toEqual([expect.objectContaining({ id: tenantId, require2fa: true })]);
  });
});

test("a member held at enrolment is sent from other pages to the account page", async () => {
  await t.deps.database.db.transaction(async (tx) => {
    const member = await createUser(tx, { actor: { kind: "system" } }, {
      email: "ops@example.com",
      password: TEST_PASSWORD,
      isSuperuser: false,
    });
    await tx.insert(memberships).values({ tenantId, userId: member.id });
  });
  const res = await postJson(t, "/api/v1/auth/login", {
    email: "ops@example.com",
    password: TEST_PASSWORD,
  });
  const { accessToken } = (await res.json()) as { accessToken: string };
  const page = await t.app.request("/users", { headers: bearer(accessToken) });
  expect(page.status).toBe(303);
  expect(page.headers.get("location")).toBe("/account");
  const account = await t.app.request("/account", { headers: bearer(accessToken) });
  expect(account.status).not.toBe(403);
  expect(account.status).not.toBe(303);
});

describe("creating tenants", () => {
  test("a superuser creates one, becomes its member and it is audited", async () => {
    const res = await postJson(t, "/api/v1/tenants", { name: "  Globex " }, bearer(rootToken));
    expect(res.status).toBe(201);
    const tenant = (await res.json()) as { id: string; name: string };
    expect(tenant.name).toBe("Globex");
    const rows = await t.database.rawSql(
      `select action from audit_log where resource_id = '${tenant.id}'`,
    );
    expect(rows.map((r) => r.action)).toContain("tenants.create");
  });

  test("a non-superuser cannot, and unknown fields such as an owner id are refused", async () => {
    // No membership, so no tenant 2FA rule is in the way: the refusal is the permission check.
    await t.deps.database.db.transaction((tx) =>
      createUser(tx, { actor: { kind: "system" } }, {
        email: "loner@example.com",
        password: TEST_PASSWORD,
        isSuperuser: false,
      })
    );
    const login = await postJson(t, "/api/v1/auth/login", {
      email: "loner@example.com",
      password: TEST_PASSWORD,
    });
    const token = ((await login.json()) as { accessToken: string }).accessToken;
    expect((await postJson(t, "/api/v1/tenants", { name: "Mine" }, bearer(token))).status)
      .toBe(403);
    const extra = await postJson(
      t,
      "/api/v1/tenants",
      { name: "X", ownerId: "usr_x" },
      bearer(rootToken),
    );
    expect(extra.status).toBe(400);
  });
});
