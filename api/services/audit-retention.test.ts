import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { bearer, postJson, setupSuperuser, TEST_PASSWORD } from "../../scripts/testing/auth.ts";
import { recordAuditNow } from "./audit.ts";
import { verifyAuditChain } from "./audit-verify.ts";
import { createUser } from "./users.ts";

let t: TestApp;
let clockOffsetMs = 0;
let rootToken: string;
const DAY = 24 * 60 * 60 * 1000;

beforeAll(async () => {
  t = await createTestApp({ now: () => new Date(Date.now() + clockOffsetMs) });
  rootToken = (await setupSuperuser(t)).accessToken;
  for (let i = 0; i < 5; i++) {
    await recordAuditNow(t.deps.database.db, { actor: { kind: "system" } }, {
      action: "hosts.update",
      outcome: "success",
      details: { i },
    });
  }
});
afterAll(() => t.close());

const prune = (token: string, body: unknown) =>
  postJson(t, "/api/v1/audit/prune", body, bearer(token));

describe("audit retention", () => {
  test("refuses non-superusers and retention shorter than a week", async () => {
    await t.deps.database.db.transaction((tx) =>
      createUser(tx, { actor: { kind: "system" } }, {
        email: "auditor@example.com",
        password: TEST_PASSWORD,
        isSuperuser: false,
      })
    );
    const login = await postJson(t, "/api/v1/auth/login", {
      email: "auditor@example.com",
      password: TEST_PASSWORD,
    });
    const { accessToken } = (await login.json()) as { accessToken: string };
    expect((await prune(accessToken, { olderThanDays: 30 })).status).toBe(403);
    expect((await prune(rootToken, { olderThanDays: 1 })).status).toBe(400);
  });

  test("prunes nothing when nothing is old enough, and says so in the log", async () => {
    const res = await prune(rootToken, { olderThanDays: 30 });
    expect(await res.json()).toEqual({ pruned: 0, upToSeq: null });
    expect((await verifyAuditChain(t.deps.database.db)).ok).toBe(true);
  });

  test("removes old rows, keeps the chain verifiable from an anchor, and is audited", async () => {
    // 40 days on, every row so far is older than 30 days.
    clockOffsetMs = 40 * DAY;
    const login = await postJson(t, "/api/v1/auth/login", {
      email: "root@example.com",
      password: TEST_PASSWORD,
    });
    rootToken = ((await login.json()) as { accessToken: string }).accessToken;
    const [state] = await t.database.rawSql(
      "select count(*)::int as n, max(seq)::int as last from audit_log",
    );
    const res = await prune(rootToken, { olderThanDays: 30 });
    expect(res.status).toBe(200);
    const { pruned } = (await res.json()) as { pruned: number };
    // Rows carry the database's clock and the app's clock moved on 40 days: every row written
    // so far (the sign-in just now too) is older than 30 days; only the new prune row stays.
    const kept = await t.database.rawSql("select action from audit_log order by seq");
    expect(kept.map((r) => r.action)).toEqual(["audit.prune"]);
    expect(pruned).toBe(Number(state?.n));
    const result = await verifyAuditChain(t.deps.database.db);
    expect(result.ok).toBe(true);
    expect(result.anchor?.seq).toBe(Number(state?.last) + 1);

    // New rows keep chaining after the prune.
    await recordAuditNow(t.deps.database.db, { actor: { kind: "system" } }, {
      action: "hosts.create",
      outcome: "success",
    });
    expect((await verifyAuditChain(t.deps.database.db)).ok).toBe(true);
  });

  test("a deletion of the oldest rows without an anchor is still detected", async () => {
    await recordAuditNow(t.deps.database.db, { actor: { kind: "system" } }, {
      action: "hosts.delete",
      outcome: "success",
    });
    await t.database.rawSql("alter table audit_log disable trigger user");
    await t.database.rawSql("delete from audit_log where seq = (select min(seq) from audit_log)");
    await t.database.rawSql("alter table audit_log enable trigger user");
    const result = await verifyAuditChain(t.deps.database.db);
    expect(result.ok).toBe(false);
  });

  test("anchors and rows cannot be edited or deleted outside the prune function", async () => {
    expect(await t.database.rawSql("select seq from audit_anchors")).toHaveLength(1);
    for (
      const statement of [
        "delete from audit_anchors",
        "update audit_anchors set prev_hash = 'x'",
        "truncate audit_anchors",
      ]
    ) {
      await expect(t.database.rawSql(statement)).rejects.toThrow(/append-only/);
    }
    await expect(t.database.rawSql("delete from audit_log")).rejects.toThrow(/append-only/);
  });
});
