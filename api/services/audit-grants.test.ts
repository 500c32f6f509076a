import { afterAll, beforeAll, expect, test } from "bun:test";
import { openTestDatabase, type TestDatabase } from "../../scripts/testing/db.ts";
import { recordAuditNow } from "./audit.ts";

// The grants the README documents for the API's database role in production: it may read and
// append the audit log and prune through audit_log_prune, and nothing else.
const ROLE = `caddis_app_${crypto.randomUUID().replaceAll("-", "").slice(0, 8)}`;
const GRANTS = [
  `create role ${ROLE} nologin`,
  `grant usage on schema public to ${ROLE}`,
  `grant select, insert on audit_log, audit_anchors to ${ROLE}`,
  `grant execute on function audit_log_prune(bigint) to ${ROLE}`,
];

let database: TestDatabase;

beforeAll(async () => {
  database = await openTestDatabase();
  for (let i = 0; i < 3; i++) {
    await recordAuditNow(database.db, { actor: { kind: "system" } }, {
      action: "hosts.update",
      outcome: "success",
    });
  }
  for (const statement of GRANTS) await database.rawSql(statement);
});
afterAll(async () => {
  await database.rawSql("reset role");
  await database.rawSql(`drop owned by ${ROLE}`);
  await database.rawSql(`drop role ${ROLE}`);
  await database.close();
});

async function asAppRole(...statements: string[]): Promise<Record<string, unknown>[]> {
  await database.rawSql(`set role ${ROLE}`);
  try {
    let rows: Record<string, unknown>[] = [];
    for (const statement of statements) rows = await database.rawSql(statement);
    return rows;
  } finally {
    await database.rawSql("reset role");
    await database.rawSql("select set_config('caddis.audit_prune', 'off', false)");
  }
}

test("the API's role cannot update, delete, truncate or switch off the audit triggers", async () => {
  for (
    const statement of [
      "update audit_log set outcome = 'failure'",
      "delete from audit_log",
      "truncate audit_log",
      "alter table audit_log disable trigger user",
      "delete from audit_anchors",
    ]
  ) {
    await expect(asAppRole(statement)).rejects.toThrow(/permission denied|must be owner/);
  }
  // The flag the prune function raises does not help a direct delete without the privilege.
  await expect(
    asAppRole("select set_config('caddis.audit_prune', 'on', false)", "delete from audit_log"),
  ).rejects.toThrow(/permission denied/);
  const rows = await database.rawSql("select count(*)::int as n from audit_log");
  expect(Number(rows[0]?.n)).toBe(3);
});

test("the API's role can read, and prune only from the oldest end through the function", async () => {
  expect(await asAppRole("select seq from audit_log")).toHaveLength(3);
  const [pruned] = await asAppRole("select audit_log_prune(1) as removed");
  expect(Number(pruned?.removed)).toBe(1);
  await expect(asAppRole("select audit_log_prune(3)")).rejects.toThrow(/newest row must be kept/);
});
