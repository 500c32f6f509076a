import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { openTestDatabase, type TestDatabase } from "../../scripts/testing/db.ts";
import {
  type AuditContext,
  auditRowHash,
  GENESIS_HASH,
  recordAudit,
  recordAuditNow,
} from "./audit.ts";
import { verifyAuditChain } from "./audit-verify.ts";

let database: TestDatabase;
const ctx: AuditContext = {
  actor: { kind: "user", id: "usr_test" },
  tenantId: "ten_test",
  ip: "203.0.113.7",
  userAgent: "bun-test",
  requestId: "req-1",
};

beforeAll(async () => {
  database = await openTestDatabase();
  await database.rawSql("create table widgets (id text primary key)");
});
afterAll(() => database.close());

async function auditCount(): Promise<number> {
  const rows = await database.rawSql("select count(*)::int as n from audit_log");
  return Number(rows[0]?.n);
}

describe("recording", () => {
  test("chains each row to the previous one with a gap-free sequence", async () => {
    const first = await recordAuditNow(database.db, ctx, {
      action: "sites.create",
      outcome: "success",
    });
    const second = await recordAuditNow(database.db, ctx, {
      action: "sites.delete",
      outcome: "denied",
    });
    expect(second.seq).toBe(first.seq + 1);
    expect(second.prevHash).toBe(first.hash);
    if (first.seq === 1) expect(first.prevHash).toBe(GENESIS_HASH);
    expect(first.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  test("takes its time from the database clock, to the millisecond", async () => {
    const row = await recordAuditNow(database.db, ctx, {
      action: "auth.login",
      outcome: "success",
    });
    const [stored] = await database.rawSql(
      `select (extract(epoch from occurred_at) * 1000)::bigint as ms,
              (extract(epoch from now()) * 1000)::bigint as now_ms
         from audit_log where seq = ${row.seq}`,
    );
    // The hash covers the time as returned: what is stored must read back identically.
    expect(Number(stored?.ms)).toBe(row.occurredAt.getTime());
    expect(Math.abs(Number(stored?.now_ms) - row.occurredAt.getTime())).toBeLessThan(60_000);
  });

  test("strips secret-named fields from details before storing them", async () => {
    const row = await recordAuditNow(database.db, ctx, {
      action: "users.update",
      outcome: "success",
      details: {
        email: "a@example.com",
        password: "hunter2-hunter2",
        nested: { apiToken: "cdt_x" },
      },
    });
    const [stored] = await database.rawSql(
      `select details::text as d from audit_log where seq = ${row.seq}`,
    );
    expect(String(stored?.d)).not.toContain("hunter2");
    expect(String(stored?.d)).not.toContain("cdt_x");
    expect(String(stored?.d)).toContain("a@example.com");
  });

  test("rolls the caller's change back when the audit row cannot be written", async () => {
    const before = await auditCount();
    const attempt = database.db.transaction(async (tx) => {
      await tx.execute(sql`insert into widgets (id) values ('w1')`);
      await recordAudit(tx, ctx, { action: "widgets.create", outcome: "success" });
      // The database rejects an unknown outcome: the whole transaction must go with it.
      await recordAudit(tx, ctx, { action: "widgets.create", outcome: "maybe" as "success" });
    });
    await expect(attempt).rejects.toThrow();
    expect(await database.rawSql("select * from widgets")).toHaveLength(0);
    expect(await auditCount()).toBe(before);
  });

  test("rejects an action that is not resource.verb", async () => {
    const bad = recordAuditNow(database.db, ctx, { action: "DROP TABLE", outcome: "success" });
    await expect(bad).rejects.toThrow(/resource\.verb/);
  });

  test("keeps the chain intact under concurrent writers", async () => {
    await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) =>
          recordAuditNow(database.db, { ...ctx, requestId: `par-${i}` }, {
            action: "sites.update",
            outcome: "success",
            details: { i },
          }),
      ),
    );
    const result = await verifyAuditChain(database.db);
    expect(result.ok).toBe(true);
    expect(result.rowsChecked).toBe(await auditCount());
  });
});

describe("hashing", () => {
  test("the hash written by the database is the one auditRowHash gives for the stored row", async () => {
    const row = await recordAuditNow(database.db, {
      actor: { kind: "agent", id: "host_1" },
      userAgent: 'Mozilla "quoted" \\ back\tslash',
    }, {
      action: "sites.update",
      resourceType: "site",
      resourceId: "site_é",
      outcome: "failure",
      details: {
        text: "line\nbreak, tab\t, nul-free \u0001 control",
        unicode: "Zürich 東京 🐟",
        nested: { b: [1, 2.5, -0, 1e21, null, true], a: "z" },
        empty: {},
      },
    });
    expect(row.hash).toBe(auditRowHash(row));
    const result = await verifyAuditChain(database.db);
    expect(result.ok).toBe(true);
  });
});

describe("append-only", () => {
  for (
    const statement of [
      "update audit_log set outcome = 'success'",
      "delete from audit_log",
      "truncate audit_log",
    ]
  ) {
    test(`the database rejects: ${statement}`, async () => {
      const before = await auditCount();
      expect(before).toBeGreaterThan(0);
      await expect(database.rawSql(statement)).rejects.toThrow(/append-only/);
      expect(await auditCount()).toBe(before);
    });
  }
});
