import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { users } from "../../db/schema.ts";
import { raceTransactions } from "../../scripts/testing/race.ts";
import { openTestDatabase, type TestDatabase } from "../../scripts/testing/db.ts";
import {
  consumeBackupCode,
  generateBackupCodes,
  remainingBackupCodes,
  replaceBackupCodes,
} from "./backup-codes.ts";

let database: TestDatabase;
let userCount = 0;
const now = new Date("2031-05-17T10:20:07Z");
const SHAPE = /^[2-9a-hjkmnp-z]{5}-[2-9a-hjkmnp-z]{5}$/;

beforeAll(async () => {
  database = await openTestDatabase();
});
afterAll(() => database.close());

async function newUser(): Promise<string> {
  const id = `usr_bkc${++userCount}`;
  await database.db.insert(users).values({ id, email: `${id}@example.com`, passwordHash: "x" });
  return id;
}

async function userWithCodes(): Promise<{ userId: string; codes: string[] }> {
  const userId = await newUser();
  const codes = await database.db.transaction((tx) => replaceBackupCodes(tx, userId, now));
  return { userId, codes };
}

function use(userId: string, code: string): Promise<boolean> {
  return database.db.transaction((tx) => consumeBackupCode(tx, userId, code, now));
}

describe("generation", () => {
  test("makes ten distinct xxxxx-xxxxx codes without ambiguous characters", () => {
    const codes = generateBackupCodes();
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) {
      expect(code).toMatch(SHAPE);
      expect(code).not.toMatch(/[01ilo]/);
    }
  });

  test("draws every character of the alphabet, so no position is stuck", () => {
    const seen = new Set(Array.from({ length: 100 }, generateBackupCodes).flat().join(""));
    seen.delete("-");
    // 10,000 draws over 31 characters: each is missing with probability ~(30/31)^10000 ≈ 0.
    expect([...seen].sort().join("")).toBe("23456789abcdefghjkmnpqrstuvwxyz");
  });
});

describe("use", () => {
  test("accepts a code once, then refuses it", async () => {
    const { userId, codes } = await userWithCodes();
    const code = codes[3] ?? "";
    expect(await remainingBackupCodes(database.db, userId)).toBe(10);
    expect(await use(userId, code)).toBe(true);
    expect(await use(userId, code)).toBe(false);
    expect(await remainingBackupCodes(database.db, userId)).toBe(9);
  });

  test("accepts a code without its dash, in upper case, with stray spaces", async () => {
    const { userId, codes } = await userWithCodes();
    const [a = "", b = "", c = ""] = codes;
    expect(await use(userId, a.replace("-", ""))).toBe(true);
    expect(await use(userId, b.toUpperCase())).toBe(true);
    expect(await use(userId, `  ${c.slice(0, 5)} ${c.slice(6)} `)).toBe(true);
    expect(await remainingBackupCodes(database.db, userId)).toBe(7);
  });

  test("refuses malformed, unknown and other users' codes", async () => {
    const { userId, codes } = await userWithCodes();
    const other = await userWithCodes();
    const code = codes[0] ?? "";
    for (
      const bad of ["", "-", code.slice(0, 9), `${code}a`, code.replace(/./, "0"), "x".repeat(1000)]
    ) {
      expect(await use(userId, bad)).toBe(false);
    }
    expect(await use(userId, other.codes[0] ?? "")).toBe(false);
    expect(await remainingBackupCodes(database.db, userId)).toBe(10);
    expect(await remainingBackupCodes(database.db, other.userId)).toBe(10);
  });

  test("gives exactly one success to ten parallel uses of one code", async () => {
    const { userId, codes } = await userWithCodes();
    const code = codes[0] ?? "";
    const results = await raceTransactions(
      database,
      10,
      (tx) => consumeBackupCode(tx, userId, code, now),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await remainingBackupCodes(database.db, userId)).toBe(9);
  });

  test("records when a code was used", async () => {
    const { userId, codes } = await userWithCodes();
    expect(await use(userId, codes[0] ?? "")).toBe(true);
    const rows = await database.rawSql(
      `select used_at from backup_codes where user_id = '${userId}' and used_at is not null`,
    );
    expect(rows).toHaveLength(1);
    expect(new Date(String(rows[0]?.used_at)).getTime()).toBe(now.getTime());
  });
});

describe("regeneration and storage", () => {
  test("regenerating kills every old code, used or not", async () => {
    const { userId, codes: old } = await userWithCodes();
    expect(await use(userId, old[0] ?? "")).toBe(true);
    const fresh = await database.db.transaction((tx) => replaceBackupCodes(tx, userId, now));
    expect(fresh.filter((code) => old.includes(code))).toEqual([]);
    expect(await remainingBackupCodes(database.db, userId)).toBe(10);
    for (const code of old) expect(await use(userId, code)).toBe(false);
    expect(await use(userId, fresh[0] ?? "")).toBe(true);
  });

  test("never stores a code in plaintext, with or without its dash", async () => {
    const { userId, codes } = await userWithCodes();
    const rows = await database.rawSql(`select * from backup_codes where user_id = '${userId}'`);
    expect(rows).toHaveLength(10);
    const dump = JSON.stringify(rows).toLowerCase();
    for (const code of codes) {
      expect(dump).not.toContain(code);
      expect(dump).not.toContain(code.replace("-", ""));
    }
    for (const row of rows) expect(String(row.code_hash)).toMatch(/^[0-9a-f]{64}$/);
  });
});
