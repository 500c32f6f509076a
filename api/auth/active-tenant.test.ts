import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { memberships } from "../../db/schema.ts";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { bearer, postJson, setupSuperuser, TEST_PASSWORD } from "../../scripts/testing/auth.ts";
import { createUser } from "../services/users.ts";

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
    const strip = async (r: Response) => {
      const body = (await r.json()) as { error: { requestId?: string } };
      delete body.error.requestId;
      return body;
    };
    expect(await strip(other)).toEqual(await strip(missing));
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
