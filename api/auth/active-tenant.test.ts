import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { memberships } from "../../db/schema.ts";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { errorOf } from "../../scripts/testing/api.ts";
import { bearer, postJson, setupSuperuser, TEST_PASSWORD } from "../../scripts/testing/auth.ts";
import { createUser } from "../services/users.ts";
import { ACCESS_COOKIE, TENANT_COOKIE } from "./cookies.ts";

let t: TestApp;
let rootToken: string;
let first: string;
let second: string;
let foreign: string;
let memberToken: string;

async function createTenant(name: string): Promise<string> {
  const res = await postJson(t, "/api/v1/tenants", { name }, bearer(rootToken));
  return ((await res.json()) as { id: string }).id;
}

beforeAll(async () => {
  t = await createTestApp();
  rootToken = (await setupSuperuser(t)).accessToken;
  first = await createTenant("First");
  second = await createTenant("Second");
  foreign = await createTenant("Foreign");
  const user = await t.deps.database.db.transaction(async (tx) => {
    const created = await createUser(tx, { actor: { kind: "system" } }, {
      email: "dev@example.com",
      password: TEST_PASSWORD,
      isSuperuser: false,
    });
    await tx.insert(memberships).values({ tenantId: first, userId: created.id });
    return created;
  });
  // A later transaction, so the second membership is strictly newer than the first.
  await t.deps.database.db.insert(memberships).values({ tenantId: second, userId: user.id });
  const login = await postJson(t, "/api/v1/auth/login", {
    email: "dev@example.com",
    password: TEST_PASSWORD,
  });
  memberToken = ((await login.json()) as { accessToken: string }).accessToken;
});
afterAll(() => t.close());

const me = (token: string, tenant?: string) =>
  t.app.request("/api/v1/auth/me", {
    headers: { ...bearer(token), ...(tenant === undefined ? {} : { "x-caddis-tenant": tenant }) },
  });

describe("the active tenant", () => {
  test("defaults to the caller's first tenant", async () => {
    const body = (await (await me(memberToken)).json()) as {
      tenantIds: string[];
      activeTenantId: string;
    };
    expect(body.tenantIds).toEqual([first, second]);
    expect(body.activeTenantId).toBe(first);
  });

  test("is picked with X-Caddis-Tenant among the caller's own tenants", async () => {
    const body = (await (await me(memberToken, second)).json()) as { activeTenantId: string };
    expect(body.activeTenantId).toBe(second);
  });

  test("another tenant's id answers exactly like one that does not exist", async () => {
    const other = await me(memberToken, foreign);
    const missing = await me(memberToken, "ten_doesnotexist000000000000");
    expect(other.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(await errorOf(other)).toEqual(await errorOf(missing));
  });

  test("hostile header values are refused without being echoed", async () => {
    for (const hostile of ["", "ten_x' or '1'='1", "<script>alert(1)</script>", "x".repeat(500)]) {
      const res = await me(memberToken, hostile);
      expect(res.status).toBe(404);
      const text = await res.text();
      expect(text).not.toContain("script");
      expect(text).not.toContain("'1'='1");
    }
  });

  test("a superuser may act in any existing tenant", async () => {
    const body = (await (await me(rootToken, foreign)).json()) as { activeTenantId: string };
    expect(body.activeTenantId).toBe(foreign);
    expect((await me(rootToken, "ten_doesnotexist000000000000")).status).toBe(404);
  });

  test("audit rows record the tenant the request acted in", async () => {
    const res = await t.app.request("/api/v1/auth/sessions/revoke-others", {
      method: "POST",
      headers: { ...bearer(memberToken), "x-caddis-tenant": second },
    });
    expect(res.status).toBe(200);
    const [row] = await t.database.rawSql(
      "select tenant_id from audit_log where action = 'auth.sessions_revoke_others'",
    );
    expect(row?.tenant_id).toBe(second);
  });

  test("a membership added elsewhere shows on the next request", async () => {
    const [user] = await t.database.rawSql("select id from users where email = 'dev@example.com'");
    await t.database.rawSql(
      `insert into memberships (tenant_id, user_id) values ('${foreign}', '${user?.id}')`,
    );
    expect((await me(memberToken, foreign)).status).toBe(200);
  });
});

describe("the tenant cookie (the panel's switcher)", () => {
  /** /auth/me as a browser sends it: the access token in its cookie, plus a tenant choice. */
  const meInBrowser = (token: string, tenantCookie: string, headers: Record<string, string> = {}) =>
    t.app.request("/api/v1/auth/me", {
      headers: {
        cookie: `${ACCESS_COOKIE}=${token}; ${TENANT_COOKIE}=${tenantCookie}`,
        ...headers,
      },
    });
  const activeOf = async (res: Response) => {
    expect(res.status).toBe(200);
    return ((await res.json()) as { activeTenantId: string }).activeTenantId;
  };

  test("picks one of the caller's tenants for a browser session", async () => {
    expect(await activeOf(await meInBrowser(memberToken, second))).toBe(second);
  });

  test("the header beats the cookie", async () => {
    expect(await activeOf(await meInBrowser(memberToken, second, { "x-caddis-tenant": first })))
      .toBe(first);
  });

  test("a tenant the caller is not a member of is ignored, never honoured", async () => {
    const elsewhere = await createTenant("Elsewhere");
    expect(await activeOf(await meInBrowser(memberToken, elsewhere))).toBe(first);
  });

  test("a stale choice (membership since removed) or a malformed one falls back to the default", async () => {
    const [user] = await t.database.rawSql("select id from users where email = 'dev@example.com'");
    const leaving = await createTenant("Leaving");
    await t.deps.database.db.insert(memberships).values({
      tenantId: leaving,
      userId: String(user?.id),
    });
    expect(await activeOf(await meInBrowser(memberToken, leaving))).toBe(leaving);
    await t.database.rawSql(`delete from memberships where tenant_id = '${leaving}'`);
    expect(await activeOf(await meInBrowser(memberToken, leaving))).toBe(first);
    for (const junk of ["", "ten_x' or '1'='1", "<script>", "%00", "x".repeat(500)]) {
      expect(await activeOf(await meInBrowser(memberToken, encodeURIComponent(junk)))).toBe(first);
    }
  });

  test("a superuser may choose any existing tenant; a made-up id is ignored", async () => {
    const other = await createTenant("Other");
    expect(await activeOf(await meInBrowser(rootToken, other))).toBe(other);
    const missing = await activeOf(await meInBrowser(rootToken, "ten_doesnotexist000000000000"));
    expect(missing).toBe(await activeOf(await me(rootToken)));
  });

  test("bearer clients are not steered by a cookie that happens to travel along", async () => {
    const res = await t.app.request("/api/v1/auth/me", {
      headers: { ...bearer(memberToken), cookie: `${TENANT_COOKIE}=${second}` },
    });
    expect(await activeOf(res)).toBe(first);
  });
});
