import { afterAll, beforeAll, expect, test } from "bun:test";
import { loginThrottles, oneTimeTokens } from "../../db/schema.ts";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { runMaintenance } from "./maintenance.ts";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

test("prunes spent throttle counters and long-expired tokens, keeping live ones", async () => {
  const now = Date.now();
  const hours = (h: number) => new Date(now + h * 3600_000);
  await t.deps.database.db.insert(loginThrottles).values([
    { key: "acct:old@example.com", failures: 3, windowStartedAt: hours(-2) },
    { key: "acct:live@example.com", failures: 3, windowStartedAt: hours(0) },
    { key: "ip:192.0.2.1", failures: 40, windowStartedAt: hours(-2), blockedUntil: hours(1) },
  ]);
  await t.deps.database.db.insert(oneTimeTokens).values([
    { id: "ott_old", purpose: "mfa", tokenHash: "a".repeat(64), expiresAt: hours(-48) },
    { id: "ott_recent", purpose: "mfa", tokenHash: "b".repeat(64), expiresAt: hours(-1) },
  ]);
  expect(await runMaintenance(t.deps)).toEqual({
    throttles: 1,
    tokens: 1,
    rateLimits: 0,
    metrics: 0,
  });
  const keys = await t.database.rawSql("select key from login_throttles order by key");
  expect(keys.map((r) => r.key)).toEqual(["acct:live@example.com", "ip:192.0.2.1"]);
  const tokens = await t.database.rawSql("select id from one_time_tokens");
  expect(tokens.map((r) => r.id)).toEqual(["ott_recent"]);
});
