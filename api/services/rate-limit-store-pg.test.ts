import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Server } from "bun";
import { createTestApp, serveTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { openTestDatabase, type TestDatabase } from "../../scripts/testing/db.ts";
import { ISSUE_RATE_LIMITS } from "../../scripts/testing/rate-limited-app.ts";
import { postgresRateLimitStore, pruneRateLimitCounters } from "./rate-limit-store-pg.ts";

// Two app instances on one database stand for two API replicas behind one proxy.
const HOUR = 3600_000;
const clock = Math.floor(Date.now() / HOUR) * HOUR + 5_000;
const now = () => new Date(clock);

let database: TestDatabase;
const replicas: { t: TestApp; server: Server<undefined>; url: string }[] = [];
beforeAll(async () => {
  database = await openTestDatabase();
  for (let i = 0; i < 2; i++) {
    const t = await createTestApp({
      database,
      now,
      env: { CADDIS_RATE_LIMIT_STORE: "postgres", CADDIS_RATE_LIMITS: ISSUE_RATE_LIMITS },
    });
    replicas.push({ t, ...serveTestApp(t) });
  }
});
afterAll(async () => {
  for (const { t, server } of replicas) {
    await server.stop(true);
    await t.close();
  }
  await database.close();
});

test("two replicas on one database share each client's budget", async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 61; i++) {
    const replica = replicas[i % 2];
    if (!replica) throw new Error("replica missing");
    const res = await fetch(`${replica.url}/api/v1/status`);
    statuses.push(res.status);
  }
  expect(statuses.slice(0, 60).every((s) => s === 200)).toBe(true);
  expect(statuses[60]).toBe(429);
  const other = replicas[1];
  if (!other) throw new Error("replica missing");
  const res = await fetch(`${other.url}/api/v1/status`);
  expect(res.status).toBe(429);
  expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
});

test("parallel increments from two stores lose nothing", async () => {
  const stores = [postgresRateLimitStore(database.db), postgresRateLimitStore(database.db)];
  const windowStart = new Date(Math.floor(clock / 60_000) * 60_000);
  const counters = [
    { key: "api:60:ip:192.0.2.50", windowStart, windowSeconds: 60 },
    { key: "api:3600:ip:192.0.2.50", windowStart: new Date(clock - 5_000), windowSeconds: 3600 },
  ];
  const results = await Promise.all(
    Array.from({ length: 100 }, (_, i) => stores[i % 2]?.hit(counters, now()) ?? []),
  );
  // Each request saw a distinct count on each counter: 1…100, none repeated, none skipped.
  for (const column of [0, 1]) {
    const seen = results.map((counts) => counts[column]).sort((a, b) => (a ?? 0) - (b ?? 0));
    expect(seen).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  }
  const rows = await database.rawSql(
    "select count from rate_limit_counters where key like 'api:%:ip:192.0.2.50' order by key",
  );
  expect(rows.map((r) => r.count)).toEqual([100, 100]);
});

test("pruning deletes only windows that have ended", async () => {
  await database.rawSql("delete from rate_limit_counters");
  const store = postgresRateLimitStore(database.db);
  const at = (ms: number) => new Date(Math.floor(clock / 60_000) * 60_000 + ms);
  await store.hit([{ key: "old", windowStart: at(-120_000), windowSeconds: 60 }], now());
  await store.hit([{ key: "live", windowStart: at(0), windowSeconds: 60 }], now());
  expect(await pruneRateLimitCounters(database.db, now())).toBe(1);
  const rows = await database.rawSql("select key from rate_limit_counters");
  expect(rows.map((r) => r.key)).toEqual(["live"]);
});
