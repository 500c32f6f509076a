import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { bearer, postJson, setupSuperuser, TEST_PASSWORD } from "../../scripts/testing/auth.ts";
import { recordAuditNow } from "../services/audit.ts";
import { createUser } from "../services/users.ts";

let t: TestApp;
let rootToken: string;
let memberToken: string;

beforeAll(async () => {
  t = await createTestApp();
  rootToken = (await setupSuperuser(t)).accessToken;
  await t.deps.database.db.transaction((tx) =>
    createUser(tx, { actor: { kind: "system" } }, {
      email: "dev@example.com",
      password: TEST_PASSWORD,
      isSuperuser: false,
    })
  );
  const login = await postJson(t, "/api/v1/auth/login", {
    email: "dev@example.com",
    password: TEST_PASSWORD,
  });
  memberToken = ((await login.json()) as { accessToken: string }).accessToken;
  await recordAuditNow(t.deps.database.db, {
    actor: { kind: "anonymous" },
    userAgent: '=HYPERLINK("http://evil")',
  }, { action: "test.evil", outcome: "failure", details: { note: 'a,"b"\nc' } });
});
afterAll(() => t.close());

const get = (path: string, token = rootToken) => t.app.request(path, { headers: bearer(token) });

describe("audit routes permissions", () => {
  test("refuses a member who is not a superuser on all three", async () => {
    for (
      const path of ["/api/v1/audit", "/api/v1/audit/export?format=csv", "/api/v1/audit/verify"]
    ) {
      const res = await get(path, memberToken);
      expect(res.status).toBe(403);
      const { error } = (await res.json()) as { error: { code: string; message: string } };
      expect(error).toMatchObject({ code: "forbidden", message: expect.stringContaining("audit") });
    }
  });

  test("refuses an anonymous caller on all three", async () => {
    for (const path of ["/api/v1/audit", "/api/v1/audit/export", "/api/v1/audit/verify"]) {
      expect((await t.app.request(path)).status).toBe(401);
    }
  });
});

describe("GET /api/v1/audit", () => {
  test("returns a page of entries and pages on with the cursor", async () => {
    const first = await get("/api/v1/audit?limit=2");
    expect(first.status).toBe(200);
    const page = (await first.json()) as { entries: { seq: number }[]; nextCursor: string };
    expect(page.entries.length).toBe(2);
    const next = await get(`/api/v1/audit?limit=2&cursor=${page.nextCursor}`);
    const page2 = (await next.json()) as { entries: { seq: number }[] };
    expect(page2.entries[0]?.seq).toBeLessThan(page.entries[1]?.seq ?? 0);
  });

  test("rejects hostile or malformed queries with 400 and no echo", async () => {
    const huge = "x".repeat(10_240);
    for (
      const query of [
        `actor=${huge}`,
        "cursor=bm90LWEtbnVtYmVy",
        "limit=1000",
        "outcome=maybe",
        "from=yesterday",
        "unknown=1",
      ]
    ) {
      const res = await get(`/api/v1/audit?${query}`);
      expect(res.status).toBe(400);
      expect(await res.text()).not.toContain(huge);
    }
  });

  test("treats SQL and wildcards as plain values", async () => {
    const hostile = encodeURIComponent("'; drop table audit_log; --");
    for (const query of [`actor=${hostile}`, "action=%25*", "resourceId=_"]) {
      const res = await get(`/api/v1/audit?${query}`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { entries: unknown[] }).entries).toEqual([]);
    }
    expect((await get("/api/v1/audit")).status).toBe(200);
  });
});

describe("GET /api/v1/audit/export", () => {
  test("downloads CSV with a neutralised formula cell", async () => {
    const res = await get("/api/v1/audit/export?format=csv&action=test.evil");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(res.headers.get("content-disposition"))
      .toMatch(/^attachment; filename="caddis-audit-\d{4}-\d\d-\d\d\.csv"$/);
    const text = await res.text();
    expect(text).toContain(`"'=HYPERLINK(""http://evil"")"`);
    expect(text).not.toContain(",=HYPERLINK");
  });

  test("downloads JSON that parses", async () => {
    const res = await get("/api/v1/audit/export?format=json&action=test.*");
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(res.headers.get("content-disposition")).toContain('.json"');
    const rows = JSON.parse(await res.text()) as { action: string }[];
    expect(rows.map((r) => r.action)).toEqual(["test.evil"]);
  });

  test("rejects an unknown format", async () => {
    expect((await get("/api/v1/audit/export?format=xlsx")).status).toBe(400);
  });
});

describe("GET /api/v1/audit/verify", () => {
  test("reports an intact chain, then the first row an attacker edited", async () => {
    const ok = await get("/api/v1/audit/verify");
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ ok: true });

    await t.database.rawSql("alter table audit_log disable trigger user");
    await t.database.rawSql("update audit_log set outcome = 'success' where action = 'test.evil'");
    await t.database.rawSql("alter table audit_log enable trigger user");
    const [row] = await t.database.rawSql("select seq from audit_log where action = 'test.evil'");

    const broken = (await (await get("/api/v1/audit/verify")).json()) as {
      ok: boolean;
      firstBroken: { seq: number };
    };
    expect(broken.ok).toBe(false);
    expect(broken.firstBroken.seq).toBe(Number(row?.seq));

    const res = await get("/api/v1/audit?action=audit.verify&limit=1");
    const { entries } = (await res.json()) as { entries: { details: { ok: boolean } }[] };
    expect(entries[0]?.details.ok).toBe(false);
  });
});
