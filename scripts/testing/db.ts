import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { type Database, openDatabase } from "../../db/client.ts";
import { migrateEmbedded, MIGRATIONS_FOLDER } from "../../db/migrate.ts";
import { serverClient } from "../../db/server-url.ts";
import { syncRbacCatalogue } from "../../api/services/rbac-catalogue.ts";

/** The PostgreSQL server the suite runs against instead of PGlite, when set. */
export const TEST_DATABASE_URL = process.env.DATABASE_URL || undefined;

const CACHE_DIR = join(import.meta.dir, "../../.cache");

/** A database of a test file's own: a fresh PGlite, or a fresh database on the server. */
export interface TestDatabase extends Database {
  /** The server database's own URL; undefined for PGlite. */
  url?: string;
  /** Superuser access to the same database, for tests that tamper as an attacker would. */
  rawSql(query: string): Promise<Record<string, unknown>[]>;
}

/** Opens an isolated, migrated database; close it in `afterAll`. */
export function openTestDatabase(): Promise<TestDatabase> {
  return TEST_DATABASE_URL ? openServerTestDatabase(TEST_DATABASE_URL) : openPgliteTestDatabase();
}

/**
 * Builds (or finds) the migrated PGlite snapshot before any test runs, so the first test file's
 * hooks do not pay the ~3 s initdb on a fresh clone.
 */
export async function prepareTestDatabases(): Promise<void> {
  if (!TEST_DATABASE_URL) await migratedSnapshot();
}

async function openPgliteTestDatabase(): Promise<TestDatabase> {
  // Starting PGlite from a migrated snapshot takes ~0.8 s; initdb plus migrations takes ~3 s.
  const pglite = new PGlite({ loadDataDir: await migratedSnapshot() });
  const database = await openDatabase({ pglite });
  await syncRbacCatalogue(database.db);
  return {
    ...database,
    rawSql: async (query) => (await pglite.query<Record<string, unknown>>(query)).rows,
  };
}

/** A fresh, migrated database of its own on the PostgreSQL server at `url`. */
export async function openServerTestDatabase(url: string): Promise<TestDatabase> {
  const name = `caddis_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const admin = serverClient(url, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const testUrl = new URL(url);
  testUrl.pathname = `/${name}`;
  // raceTransactions holds ten transactions open at once, each on its own connection: more than
  // the API's default pool, which would queue them instead of racing them.
  const database = await openDatabase({ url: testUrl.toString(), poolSize: 10 });
  await database.migrate();
  await syncRbacCatalogue(database.db);
  const raw = serverClient(testUrl.toString(), { max: 1, onnotice: () => {} });
  return {
    ...database,
    url: testUrl.toString(),
    rawSql: (query) => raw.unsafe(query) as unknown as Promise<Record<string, unknown>[]>,
    async close() {
      await raw.end();
      await database.close();
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

/** A data-dir tarball of a migrated PGlite, cached on disk per set of migrations. */
async function migratedSnapshot(): Promise<Blob> {
  const key = await migrationsFingerprint();
  const file = join(CACHE_DIR, `pglite-${key}.tar.gz`);
  const cached = await readFile(file).catch(() => undefined);
  if (cached) return new Blob([cached]);
  const pglite = new PGlite();
  await migrateEmbedded(pglite);
  const dump = await pglite.dumpDataDir("gzip");
  await pglite.close();
  await mkdir(CACHE_DIR, { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, new Uint8Array(await dump.arrayBuffer()));
  await rename(temp, file);
  return dump;
}

async function migrationsFingerprint(): Promise<string> {
  const journal = await readFile(join(MIGRATIONS_FOLDER, "meta/_journal.json"));
  const names = JSON.parse(journal.toString()).entries.map((e: { tag: string }) => e.tag);
  const hash = new Bun.CryptoHasher("sha256");
  for (const name of names) hash.update(await readFile(join(MIGRATIONS_FOLDER, `${name}.sql`)));
  hash.update(
    await readFile(join(import.meta.dir, "../../node_modules/@electric-sql/pglite/package.json")),
  );
  return hash.digest("hex").slice(0, 16);
}
