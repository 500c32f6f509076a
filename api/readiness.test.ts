import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { openDatabase } from "../db/client.ts";
import { createTestApp, type TestApp } from "../scripts/testing/app.ts";
import { openServerTestDatabase, type TestDatabase } from "../scripts/testing/db.ts";
import { reportMissingServer, SERVER_URL } from "../scripts/testing/server-only.ts";
import { startTcpProxy, type TcpProxy } from "../scripts/testing/tcp-proxy.ts";
import { waitFor } from "../scripts/testing/wait.ts";

// An outage needs a server to lose (the embedded database cannot become unreachable): the suite's
// server (scripts/testing/server-only.ts).
reportMissingServer("a PostgreSQL outage");

describe.skipIf(!SERVER_URL)("a PostgreSQL outage", () => {
  let server: TestDatabase;
  let proxy: TcpProxy;
  let t: TestApp;

  beforeAll(async () => {
    server = await openServerTestDatabase(SERVER_URL ?? "");
    const real = new URL(server.url ?? "");
    proxy = await startTcpProxy({ host: real.hostname, port: Number(real.port || 5432) });
    await proxy.down();
    const viaProxy = new URL(real);
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    // Starts while the database is unreachable, as after a reboot where PostgreSQL is slower.
    const database = await openDatabase({ url: viaProxy.toString() });
    t = await createTestApp({ database: { ...database, rawSql: server.rawSql } });
    t.app.get("/test/query", async (c) => {
      await t.deps.database.db.execute(sql`select 1`);
      return c.json({ ok: true });
    });
  });
  afterAll(async () => {
    await t.close();
    // postgres-js waits up to its 5 s end timeout for connections the outage left half-open.
    await t.deps.database.close();
    await proxy.close();
    await server.close();
  }, 20_000);

  test("gives 503 from probes and queries while the database is down at start", async () => {
    expect(t.deps.readiness.migrated).toBe(false);
    expect((await t.app.request("/readyz")).status).toBe(503);
    expect((await t.app.request("/api/v1/status")).status).toBe(503);
    const res = await t.app.request("/test/query");
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    const body = await res.json() as { error: { code: string; message: string } };
    expect(body.error.code).toBe("unavailable");
    expect(body.error.message).not.toContain("127.0.0.1");
    expect((await t.app.request("/healthz")).status).toBe(200);
    expect(t.logText()).toContain("Cannot prepare the database");
  });

  test("recovers by itself when the database comes back, migrating on the way", async () => {
    await proxy.up();
    await waitFor(
      "readyz to answer 200",
      async () => (await t.app.request("/readyz")).status === 200,
    );
    expect(t.deps.readiness.migrated).toBe(true);
    expect((await t.app.request("/test/query")).status).toBe(200);
  }, 60_000);

  test("answers 503 during a later outage and recovers again", async () => {
    await proxy.down();
    await waitFor(
      "queries to fail with 503",
      async () => (await t.app.request("/test/query")).status === 503,
    );
    expect((await t.app.request("/readyz")).status).toBe(503);
    await proxy.up();
    await waitFor(
      "queries to work again",
      async () => (await t.app.request("/test/query")).status === 200,
    );
    expect((await t.app.request("/readyz")).status).toBe(200);
  }, 60_000);
});
