import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { asc, desc, eq, gt } from "drizzle-orm";
import { newId } from "../../db/ids.ts";
import { auditLog, sites, tenants, users } from "../../db/schema.ts";
import { openTestDatabase, type TestDatabase } from "../../scripts/testing/db.ts";
import { insertTestSite } from "../../scripts/testing/sites.ts";
import {
  createSecrets,
  generateKeyringEntry,
  parseKeyring,
  type Secrets,
} from "../auth/secrets.ts";
import { decryptTotpSecret, encryptTotpSecret, generateTotpSecret } from "../auth/totp.ts";
import { keyVersionUsage, retirableVersions, rotateEncryptedColumns } from "./key-rotation.ts";
import { openSiteEnv, sealSiteEnv } from "./site-env.ts";

const entry1 = generateKeyringEntry(1);
const entry2 = generateKeyringEntry(2);
let database: TestDatabase;
let oldKeys: Secrets; // what the panel wrote with before the rotation
let rotating: Secrets; // `2:<new>,1:<old>`: the keyring a rotation runs with
let newOnly: Secrets; // proves a rotated value needs nothing but the new key, and one decrypt

beforeAll(async () => {
  database = await openTestDatabase();
  oldKeys = await createSecrets(parseKeyring(entry1));
  rotating = await createSecrets(parseKeyring(`${entry2},${entry1}`));
  newOnly = await createSecrets(parseKeyring(entry2));
});
afterAll(() => database.close());
// Rotation visits the whole table, so every test starts from its own users only.
beforeEach(async () => {
  await database.db.delete(users);
});

/** Inserts `count` users with TOTP secrets under key v1; returns their ids and plaintexts. */
async function seedUsers(count: number): Promise<Map<string, Uint8Array>> {
  const seeded = new Map<string, Uint8Array>();
  for (let i = 0; i < count; i++) {
    const id = newId("usr");
    const secret = generateTotpSecret();
    await database.db.insert(users).values({
      id,
      email: `${id}@example.test`,
      passwordHash: "not-a-real-hash",
      totpSecret: await encryptTotpSecret(oldKeys, id, secret),
    });
    seeded.set(id, secret);
  }
  return seeded;
}

async function storedValues(): Promise<Map<string, string | null>> {
  const rows = await database.db.select({ id: users.id, value: users.totpSecret }).from(users)
    .orderBy(asc(users.id));
  return new Map(rows.map((r) => [r.id, r.value]));
}

async function setValue(id: string, value: string): Promise<void> {
  await database.db.update(users).set({ totpSecret: value }).where(eq(users.id, id));
}

/** Each value is under v2 and opens with the new key alone, in one decrypt, to its original. */
async function expectAllRotated(seeded: Map<string, Uint8Array>): Promise<void> {
  const values = await storedValues();
  for (const [id, secret] of seeded) {
    const value = values.get(id)!;
    expect(value).toStartWith("v2:");
    expect(await decryptTotpSecret(newOnly, id, value)).toEqual(secret);
  }
}

async function lastAuditSeq(): Promise<number> {
  const [row] = await database.db.select({ seq: auditLog.seq }).from(auditLog)
    .orderBy(desc(auditLog.seq)).limit(1);
  return row?.seq ?? 0;
}

describe("rotateEncryptedColumns", () => {
  test("moves every value to the newest key and each decrypts to its original bytes", async () => {
    const seeded = await seedUsers(5);
    await database.db.insert(users).values({
      id: newId("usr"),
      email: "no-totp@example.test",
      passwordHash: "not-a-real-hash",
    });

    const tenantId = newId("ten");
    await database.db.insert(tenants).values({ id: tenantId, name: "Acme" });
    const { siteId } = await insertTestSite(database.db, tenantId);
    const env = { DB_PASSWORD: "hunter2" };
    await database.db.update(sites).set(await sealSiteEnv(oldKeys, siteId, env))
      .where(eq(sites.id, siteId));

    const result = await rotateEncryptedColumns(database.db, rotating, { batchSize: 2 });

    expect(result.toVersion).toBe(2);
    const done = { skipped: 0, failed: 0, failedIds: [], remaining: 0 };
    expect(result.columns).toEqual([
      {
        table: "users",
        column: "totp_secret",
        pending: 5,
        rotated: 5,
        fromVersions: { v1: 5 },
        ...done,
      },
      {
        table: "sites",
        column: "env_secret",
        pending: 1,
        rotated: 1,
        fromVersions: { v1: 1 },
        ...done,
      },
    ]);
    await expectAllRotated(seeded);
    const [site] = await database.db.select({ envSecret: sites.envSecret }).from(sites)
      .where(eq(sites.id, siteId));
    expect(site?.envSecret).toStartWith("v2:");
    expect(await openSiteEnv(newOnly, siteId, site?.envSecret ?? null)).toEqual(env);
    await database.db.delete(sites);
    const [blank] = await database.db.select({ value: users.totpSecret }).from(users)
      .where(eq(users.email, "no-totp@example.test"));
    expect(blank?.value).toBeNull();
  });

  test("a run killed after its first batch resumes and rotates every value exactly once", async () => {
    const seeded = await seedUsers(5);
    const killed = rotateEncryptedColumns(database.db, rotating, {
      batchSize: 2,
      onProgress: () => {
        throw new Error("killed");
      },
    });
    await expect(killed).rejects.toThrow("killed");
    const afterKill = await storedValues();
    const firstBatch = [...afterKill].filter(([, v]) => v?.startsWith("v2:"));
    expect(firstBatch).toHaveLength(2);

    const resumed = await rotateEncryptedColumns(database.db, rotating, { batchSize: 2 });

    expect(resumed.columns[0]).toMatchObject({ pending: 3, rotated: 3, remaining: 0 });
    const values = await storedValues();
    // The first run's values were not touched again: re-encrypting would change the IV.
    for (const [id, value] of firstBatch) expect(values.get(id)).toBe(value);
    await expectAllRotated(seeded);
  });

  test("a value changed between read and write is skipped, not overwritten", async () => {
    const seeded = await seedUsers(3);
    const [raced] = [...seeded.keys()];
    const concurrent = generateTotpSecret();
    const concurrentValue = await encryptTotpSecret(rotating, raced!, concurrent);

    const result = await rotateEncryptedColumns(database.db, rotating, {
      // The user re-enrols 2FA on a panel already running with the new keyring.
      beforeWrite: () => setValue(raced!, concurrentValue),
    });

    expect(result.columns[0]).toMatchObject({ rotated: 2, skipped: 1, failed: 0, remaining: 0 });
    expect((await storedValues()).get(raced!)).toBe(concurrentValue);
    seeded.set(raced!, concurrent);
    await expectAllRotated(seeded);
  });

  test("a corrupted value is reported by id and left untouched while the others rotate", async () => {
    const seeded = await seedUsers(3);
    const [victim, other] = [...seeded.keys()];
    // Another user's ciphertext: well-formed, but its AAD names a different row.
    const moved = (await storedValues()).get(other!)!;
    await setValue(victim!, moved);
    seeded.delete(victim!);

    const result = await rotateEncryptedColumns(database.db, rotating);

    expect(result.columns[0]).toMatchObject({
      rotated: 2,
      failed: 1,
      failedIds: [victim],
      remaining: 1,
    });
    expect((await storedValues()).get(victim!)).toBe(moved);
    await expectAllRotated(seeded);
    expect(JSON.stringify(result)).not.toContain(moved);
  });

  test("writes an audit row per batch in its transaction and one for the run", async () => {
    await seedUsers(3);
    const [bad] = [...(await seedUsers(1)).keys()];
    await setValue(bad!, "v1:not-a-ciphertext");
    const since = await lastAuditSeq();

    await rotateEncryptedColumns(database.db, rotating, { batchSize: 2 });

    const rows = await database.db.select().from(auditLog).where(gt(auditLog.seq, since))
      .orderBy(asc(auditLog.seq));
    expect(rows.map((r) => [r.action, r.actorKind, r.outcome, r.details.phase])).toEqual([
      ["secrets.rotate", "system", "success", "batch"],
      ["secrets.rotate", "system", "success", "batch"],
      ["secrets.rotate", "system", "failure", "run"],
    ]);
    expect(rows[0]).toMatchObject({
      resourceType: "encrypted_column",
      resourceId: "users.totp_secret",
    });
    // Which batch holds the bad value depends on id order (collation), not on the rotation.
    expect(rows.slice(0, 2).map((r) => r.details.rotated).sort()).toEqual([1, 2]);
    expect(rows[2]?.details).toMatchObject({
      toVersion: 2,
      columns: [
        { table: "users", column: "totp_secret", rotated: 3, failed: 1, failedIds: [bad] },
        { table: "sites", column: "env_secret", rotated: 0, failed: 0 },
      ],
    });
    const stored = JSON.stringify(rows);
    expect(stored).not.toContain("not-a-ciphertext");
    for (const value of (await storedValues()).values()) expect(stored).not.toContain(value!);
  });

  test("a dry run counts what would change and what would fail, and writes nothing", async () => {
    await seedUsers(3);
    const [bad] = [...(await seedUsers(1)).keys()];
    await setValue(bad!, "garbage");
    const before = await storedValues();
    const since = await lastAuditSeq();

    const result = await rotateEncryptedColumns(database.db, rotating, { dryRun: true });

    expect(result.dryRun).toBe(true);
    expect(result.columns[0]).toMatchObject({
      rotated: 3,
      failed: 1,
      failedIds: [bad],
      remaining: 4,
    });
    expect(await storedValues()).toEqual(before);
    expect(await lastAuditSeq()).toBe(since);
  });
});

describe("keyVersionUsage", () => {
  test("shows version 1 unused once every value is rotated", async () => {
    await seedUsers(4);
    expect(await keyVersionUsage(database.db)).toEqual([
      {
        table: "users",
        column: "totp_secret",
        versions: [{ version: 1, count: 4 }],
        unrecognised: 0,
      },
      { table: "sites", column: "env_secret", versions: [], unrecognised: 0 },
    ]);
    expect(retirableVersions(await keyVersionUsage(database.db), [2, 1], 2)).toEqual([]);

    await rotateEncryptedColumns(database.db, rotating);

    const usage = await keyVersionUsage(database.db);
    expect(usage[0]?.versions).toEqual([{ version: 2, count: 4 }]);
    expect(retirableVersions(usage, [2, 1], 2)).toEqual([1]);
  });

  test("counts values without a version prefix as unrecognised, without reading them out", async () => {
    const [id] = [...(await seedUsers(2)).keys()];
    await setValue(id!, "JBSWY3DPEHPK3PXP");
    const usage = await keyVersionUsage(database.db);
    expect(usage[0]).toMatchObject({ versions: [{ version: 1, count: 1 }], unrecognised: 1 });
    expect(JSON.stringify(usage)).not.toContain("JBSWY3DPEHPK3PXP");
  });
});
