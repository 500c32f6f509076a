import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { encodeBase64, encodeHexLowerCase } from "@oslojs/encoding";
import { createSecrets, generateKeyringEntry, parseKeyring } from "../api/auth/secrets.ts";
import {
  decryptTotpSecret,
  encryptTotpSecret,
  generateTotpSecret,
  totpManualKey,
} from "../api/auth/totp.ts";
import { openDatabase } from "../db/client.ts";
import { openServerTestDatabase, TEST_DATABASE_URL, type TestDatabase } from "./testing/db.ts";

const entry1 = generateKeyringEntry(1);
const entry2 = generateKeyringEntry(2);
const keyring = `${entry2},${entry1}`;
let dataDir: string;
let server: TestDatabase | undefined;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "caddis-rotate-"));
  if (TEST_DATABASE_URL) server = await openServerTestDatabase(TEST_DATABASE_URL);
  else {
    const database = await openDatabase({ dataDir: join(dataDir, "pglite") });
    await database.migrate();
    await database.close();
  }
});
afterAll(async () => {
  await server?.close();
  await rm(dataDir, { recursive: true, force: true });
});

/**
 * Runs statements on the CLI's database, returning the last one's rows; the embedded database is
 * opened only between CLI runs, as it has one owner at a time.
 */
async function sqlOnCliDatabase(...queries: string[]): Promise<Record<string, unknown>[]> {
  const pglite = server ? undefined : new PGlite(join(dataDir, "pglite"));
  let rows: Record<string, unknown>[] = [];
  try {
    for (const query of queries) {
      rows = pglite
        ? (await pglite.query<Record<string, unknown>>(query)).rows
        : await server!.rawSql(query);
    }
    return rows;
  } finally {
    await pglite?.close();
  }
}

/** Replaces all users with three whose TOTP secrets are under key v1; returns the plaintexts. */
async function seedUsers(): Promise<Map<string, Uint8Array>> {
  const old = await createSecrets(parseKeyring(entry1));
  const seeded = new Map<string, Uint8Array>();
  const rows: string[] = [];
  for (const n of [1, 2, 3]) {
    const id = `usr_rotate${n}`;
    const secret = generateTotpSecret();
    // Ciphertexts are base64url, `v` and `:`: safe to inline.
    const value = await encryptTotpSecret(old, id, secret);
    rows.push(`('${id}', '${id}@example.test', 'not-a-real-hash', '${value}')`);
    seeded.set(id, secret);
  }
  await sqlOnCliDatabase(
    "delete from users",
    `insert into users (id, email, password_hash, totp_secret) values ${rows.join(", ")}`,
  );
  return seeded;
}

async function storedValues(): Promise<Map<string, string>> {
  const rows = await sqlOnCliDatabase("select id, totp_secret from users order by id");
  return new Map(rows.map((r) => [String(r.id), String(r.totp_secret)]));
}

async function runCli(args: string[], keys = keyring) {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "",
    CADDIS_DATA_DIR: dataDir,
    CADDIS_ENCRYPTION_KEYS: keys,
  };
  if (server?.url) env.DATABASE_URL = server.url;
  const proc = Bun.spawn([process.execPath, "scripts/rotate-keys.ts", ...args], {
    env,
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, out: stdout + stderr };
}

/** Everything that must never be printed: keys, plaintexts in every encoding, ciphertexts. */
async function expectNoSecrets(out: string, seeded: Map<string, Uint8Array>, values: string[]) {
  const devSecrets = await readFile(join(dataDir, "secrets.env"), "utf8").catch(() => "");
  const forbidden = [
    ...keyring.split(",").map((entry) => entry.slice(entry.indexOf(":") + 1)),
    ...devSecrets.split("\n").filter((l) => l.includes("=")).map((l) => l.split("=")[1]!),
    ...[...seeded.values()].flatMap((
      s,
    ) => [totpManualKey(s), encodeHexLowerCase(s), encodeBase64(s)]),
    ...values.map((v) => v.split(":").slice(1).join(":")),
  ];
  for (const secret of forbidden) expect(out).not.toContain(secret);
}

test("--dry-run reports what would change and writes nothing", async () => {
  const seeded = await seedUsers();
  const before = await storedValues();

  const { code, out } = await runCli(["--dry-run"]);

  expect(out).toContain("users.totp_secret: batch 1: would rotate 3/3, skipped 0, failed 0");
  expect(out).toContain("Key version 1 is still used by 3 value(s); keep it for now.");
  expect(code).toBe(0);
  expect(await storedValues()).toEqual(before);
  await expectNoSecrets(out, seeded, [...before.values()]);
}, 60_000);

test("rotates in batches with progress and says when a version can be removed", async () => {
  const seeded = await seedUsers();
  const before = await storedValues();

  const { code, out } = await runCli(["--batch-size", "2"]);

  expect(out).toContain("users.totp_secret: batch 1: rotated 2/3, skipped 0, failed 0");
  expect(out).toContain("users.totp_secret: batch 2: rotated 3/3, skipped 0, failed 0");
  expect(out).toContain("users.totp_secret: rotated 3 (from v1: 3), skipped 0, failed 0");
  expect(out).toContain("users.totp_secret: v2: 3");
  expect(out).toContain(
    "Key version 1 is no longer used; you may remove it from CADDIS_ENCRYPTION_KEYS.",
  );
  expect(code).toBe(0);
  const after = await storedValues();
  const newOnly = await createSecrets(parseKeyring(entry2));
  for (const [id, secret] of seeded) {
    expect(await decryptTotpSecret(newOnly, id, after.get(id)!)).toEqual(secret);
  }
  await expectNoSecrets(out, seeded, [...before.values(), ...after.values()]);
  const audit = await sqlOnCliDatabase(
    "select count(*)::int as n from audit_log where action = 'secrets.rotate'",
  );
  expect(Number(audit[0]?.n)).toBeGreaterThanOrEqual(3);
}, 60_000);

test(
  "exits 1 naming the row when a value cannot be decrypted, and leaves it as it was",
  async () => {
    const seeded = await seedUsers();
    // Written under a key this keyring no longer has.
    const lost = await createSecrets(parseKeyring(generateKeyringEntry(3)));
    const orphan = await encryptTotpSecret(lost, "usr_rotate2", seeded.get("usr_rotate2")!);
    await sqlOnCliDatabase(`update users set totp_secret = '${orphan}' where id = 'usr_rotate2'`);

    const { code, out } = await runCli([]);

    expect(out).toContain("rows: usr_rotate2");
    expect(out).toContain(
      "Key version 3 is used by 1 value(s) but is not in CADDIS_ENCRYPTION_KEYS",
    );
    expect(code).toBe(1);
    expect((await storedValues()).get("usr_rotate2")).toBe(orphan);
    await expectNoSecrets(out, seeded, [orphan]);
  },
  60_000,
);

test("a malformed keyring or batch size is a usage error that echoes no key", async () => {
  const bad = await runCli([], "2:c2hvcnQ=,1:c2hvcnQ=");
  expect(bad.code).toBe(2);
  expect(bad.out).toContain("CADDIS_ENCRYPTION_KEYS entry 1: key is 5 bytes, expected 32");
  expect(bad.out).not.toContain("c2hvcnQ");

  const size = await runCli(["--batch-size", "0"]);
  expect(size.code).toBe(2);
  expect(size.out).toContain("--batch-size must be a whole number from 1 to 10000");
}, 60_000);
