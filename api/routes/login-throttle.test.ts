import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Server } from "bun";
import { createTestApp, serveTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { setupSuperuser, TEST_PASSWORD } from "../../scripts/testing/auth.ts";

// Over a real socket, so the client address is the TCP peer (127.0.0.1), as in production.
let t: TestApp;
let server: Server<undefined>;

beforeAll(async () => {
  // The sign-in throttle is under test here, not the request budget (rate-limit.test.ts).
  // A frozen clock: the first block lasts one second, and a burst on a loaded machine could
  // otherwise outlast it and legitimately earn a sixth attempt.
  const frozen = new Date();
  t = await createTestApp({ env: { CADDIS_RATE_LIMITS: "auth=off" }, now: () => frozen });
  await setupSuperuser(t, "root@example.com");
  ({ server } = serveTestApp(t));
});
afterAll(async () => {
  await server.stop(true);
  await t.close();
});

function login(email: string, password: string, forwardedFor?: string) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (forwardedFor) headers["x-forwarded-for"] = forwardedFor;
  return fetch(`http://127.0.0.1:${server.port}/api/v1/auth/login`, {
    method: "POST",
    headers,
    body: JSON.stringify({ email, password }),
  });
}

test("repeated failures throttle the account with 429 and Retry-After; spoofed X-Forwarded-For changes nothing", async () => {
  for (let i = 0; i < 5; i++) {
    const res = await login("root@example.com", "wrong-password-42", `198.51.100.${i}`);
    expect(res.status).toBe(401);
  }
  for (const spoof of [undefined, "203.0.113.9", "10.0.0.1, 192.0.2.77"]) {
    const res = await login("root@example.com", "wrong-password-42", spoof);
    expect(res.status).toBe(429);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    const body = await res.json() as { error: { code: string } };
    expect(body.error.code).toBe("rate_limited");
  }
  // Even the right password waits out the block: the throttle is checked first.
  expect((await login("root@example.com", TEST_PASSWORD)).status).toBe(429);
});

test("an unknown email is throttled exactly like a real one", async () => {
  for (let i = 0; i < 5; i++) {
    expect((await login("ghost@example.com", "wrong-password-42")).status).toBe(401);
  }
  expect((await login("ghost@example.com", "wrong-password-42")).status).toBe(429);
});

test("a parallel burst gets no more password checks than the limit allows", async () => {
  const results = await Promise.all(
    Array.from({ length: 20 }, () => login("burst@example.com", "wrong-password-42")),
  );
  const checked = results.filter((r) => r.status === 401).length;
  expect(checked).toBeGreaterThan(0);
  expect(checked).toBeLessThanOrEqual(5);
  expect(results.filter((r) => r.status === 429).length).toBe(20 - checked);
});

test("the audit log records failed sign-ins with the socket address, not the spoofed one", async () => {
  const rows = await t.database.rawSql(
    "select distinct ip from audit_log where action = 'auth.login' and outcome = 'failure'",
  );
  expect(rows.map((r) => r.ip)).toEqual(["127.0.0.1"]);
});
