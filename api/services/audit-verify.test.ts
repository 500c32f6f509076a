import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { auditLog } from "../../db/schema.ts";
import { openTestDatabase, type TestDatabase } from "../../scripts/testing/db.ts";
import { auditRowHash, recordAuditNow } from "./audit.ts";
import { verifyAuditChain } from "./audit-verify.ts";

// Each test tampers, so each gets a fresh database with five honest rows.
let database: TestDatabase;

beforeEach(async () => {
  database = await openTestDatabase();
  for (let i = 1; i <= 5; i++) {
    await recordAuditNow(database.db, { actor: { kind: "system" } }, {
      action: "hosts.update",
      outcome: "success",
      details: { step: i, note: "ok" },
    });
  }
});
afterEach(() => database.close());

/** Acts as a database superuser would: with the append-only triggers switched off. */
async function tamper(statement: string): Promise<void> {
  await database.rawSql("alter table audit_log disable trigger user");
  await database.rawSql(statement);
  await database.rawSql("alter table audit_log enable trigger user");
}

describe("verifyAuditChain", () => {
  test("reports an untouched chain as intact with its head", async () => {
    const result = await verifyAuditChain(database.db);
    expect(result).toMatchObject({ ok: true, rowsChecked: 5, head: { seq: 5 } });
  });

  test("detects an edited field and names the row", async () => {
    await tamper(`update audit_log set details = '{"step": 3, "note": "forged"}' where seq = 3`);
    const result = await verifyAuditChain(database.db);
    expect(result.ok).toBe(false);
    expect(result.firstBroken).toEqual({ seq: 3, reason: expect.stringContaining("altered") });
  });

  test("detects a forged actor", async () => {
    await tamper("update audit_log set actor_kind = 'user', actor_id = 'usr_evil' where seq = 2");
    expect((await verifyAuditChain(database.db)).firstBroken?.seq).toBe(2);
  });

  test("detects a deleted row as a gap", async () => {
    await tamper("delete from audit_log where seq = 4");
    const result = await verifyAuditChain(database.db);
    expect(result.firstBroken).toEqual({ seq: 5, reason: expect.stringContaining("gap") });
  });

  test("detects a deleted first row", async () => {
    await tamper("delete from audit_log where seq = 1");
    expect((await verifyAuditChain(database.db)).firstBroken?.seq).toBe(2);
  });

  test("detects a rewritten row whose own hash was recomputed, at the next row", async () => {
    const [row] = await database.db.select().from(auditLog).where(eq(auditLog.seq, 2));
    if (!row) throw new Error("row 2 missing");
    const forged = { ...row, outcome: "denied" as const };
    const forgedHash = auditRowHash(forged);
    await tamper(`update audit_log set outcome = 'denied', hash = '${forgedHash}' where seq = 2`);
    const result = await verifyAuditChain(database.db);
    expect(result.firstBroken).toEqual({ seq: 3, reason: expect.stringContaining("prev_hash") });
  });

  test("detects rows renumbered to hide a deletion", async () => {
    await tamper("delete from audit_log where seq = 3");
    await tamper("update audit_log set seq = seq - 1 where seq > 3");
    const result = await verifyAuditChain(database.db);
    expect(result.ok).toBe(false);
    expect(result.firstBroken?.seq).toBe(3);
  });
});
