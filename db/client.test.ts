import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { openServerTestDatabase, type TestDatabase } from "../scripts/testing/db.ts";
import { reportMissingServer, SERVER_URL } from "../scripts/testing/server-only.ts";
import { type Database, openDatabase } from "./client.ts";
import { rowsOf } from "./migrate.ts";

// How many server connections the API holds is CADDIS_DB_POOL_SIZE: a pool that opened more
// could exhaust the server's max_connections across replicas. Counting backends needs a server,
// and so does reaching one through its Unix socket.
const NAME = "connections to a PostgreSQL server";
reportMissingServer(NAME);

describe.skipIf(!SERVER_URL)(NAME, () => {
  // A throwaway database to open the pools under test on.
  let base: TestDatabase;
  const opened: Database[] = [];
  const open = async (poolSize?: number) => {
    const database = await openDatabase({ url: base.url ?? "", poolSize });
    opened.push(database);
    return database;
  };

  beforeAll(async () => {
    base = await openServerTestDatabase(SERVER_URL ?? "");
  });
  afterAll(async () => {
    await Promise.all(opened.map((database) => database.close()));
    await base.close();
  });

  // Runs `count` overlapping queries on `db` and returns how many backends served them.
  async function backendsServing(db: Database["db"], count: number): Promise<number> {
    const pids = await Promise.all(Array.from({ length: count }, async () => {
      const [row] = rowsOf<{ pid: number }>(
        await db.execute(sql`select pg_backend_pid() as pid, pg_sleep(0.05)`),
      );
      return row?.pid;
    }));
    return new Set(pids).size;
  }

  test("holds at most poolSize connections, and half as many (at least 2) for relaxed writes", async () => {
    const database = await open(3);
    expect(await backendsServing(database.db, 9)).toBe(3);
    expect(await backendsServing(database.relaxedDb, 9)).toBe(2);
  });

  test("holds 4 connections when no size is given", async () => {
    const database = await open();
    expect(await backendsServing(database.db, 12)).toBe(4);
  });

  test("reaches the server through its Unix socket with ?host=<directory>, migrations too", async () => {
    const suiteDb = await open(2);
    const [setting] = rowsOf<{ dirs: string; port: string }>(
      await suiteDb.db.execute(
        sql`select current_setting('unix_socket_directories') as dirs,
        current_setting('port') as port`,
      ),
    );
    const directory = setting?.dirs.split(",")[0]?.trim();
    if (!directory) throw new Error("this PostgreSQL server listens on no Unix socket");
    const url = new URL(base.url ?? "");
    url.hostname = "localhost";
    url.port = setting?.port ?? "5432";
    url.searchParams.set("host", directory);

    const local = await openDatabase({ url: url.toString(), poolSize: 2 });
    opened.push(local);
    await local.migrate();
    for (const db of [local.db, local.relaxedDb]) {
      const [row] = rowsOf<{ over_tcp: boolean; database: string }>(
        await db.execute(
          sql`select inet_client_addr() is not null as over_tcp, current_database() as database`,
        ),
      );
      expect(row).toEqual({ over_tcp: false, database: url.pathname.slice(1) });
    }
    // The same query on the suite's own URL (TCP, unless it names a socket too) tells them apart.
    const [suite] = rowsOf<{ over_tcp: boolean }>(
      await suiteDb.db.execute(sql`select inet_client_addr() is not null as over_tcp`),
    );
    expect(suite?.over_tcp).toBe(!new URL(base.url ?? "").searchParams.has("host"));
  });
});
