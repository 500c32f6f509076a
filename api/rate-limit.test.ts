import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import { createTestApp, serveTestApp, type TestApp } from "../scripts/testing/app.ts";
import { bearer, setupSuperuser, TEST_PASSWORD } from "../scripts/testing/auth.ts";
import { signIn } from "../scripts/testing/members.ts";
import { ISSUE_RATE_LIMITS } from "../scripts/testing/rate-limited-app.ts";
import { rateLimitGroup } from "./rate-limit.ts";
import { createUser } from "./services/users.ts";

// Over a real socket, so the client address is the TCP peer (127.0.0.1), as in production. The
// clock is the app's own, starting just past a whole hour so no window ends mid-test by chance.
const HOUR = 3600_000;
let clock = Math.floor(Date.now() / HOUR) * HOUR + 5_000;
const now = () => new Date(clock);
/** Moves the app's clock to just past the next whole hour: every window starts afresh. */
const nextHour = () => (clock = Math.floor(clock / HOUR) * HOUR + HOUR + 5_000);

const apps: { t: TestApp; server: Server<undefined> }[] = [];
async function serve(env: Record<string, string> = {}) {
  const t = await createTestApp({ now, env: { CADDIS_RATE_LIMITS: ISSUE_RATE_LIMITS, ...env } });
  const { server, url } = serveTestApp(t);
  apps.push({ t, server });
  return { t, url };
}
// Each app drops its own database on a server, which waits for a checkpoint: past bun's 5 s hook
// default on a loaded machine.
afterAll(async () => {
  for (const { t, server } of apps) {
    await server.stop(true);
    await t.close();
  }
}, 30_000);

let t: TestApp;
let url: string;
beforeAll(async () => {
  ({ t, url } = await serve());
});

const get = (path: string, headers: Record<string, string> = {}) =>
  fetch(`${url}${path}`, { headers });

async function expectLimited(res: Response, limit: number) {
  expect(res.status).toBe(429);
  const body = await res.json() as { error: { code: string; message: string } };
  expect(body.error.code).toBe("rate_limited");
  const retryAfter = Number(res.headers.get("retry-after"));
  expect(retryAfter).toBeGreaterThan(0);
  expect(res.headers.get("ratelimit-limit")).toBe(String(limit));
  expect(res.headers.get("ratelimit-remaining")).toBe("0");
  expect(res.headers.get("ratelimit-reset")).toBe(String(retryAfter));
}

describe("API budget per client address", () => {
  test("the 61st request in a minute gets 429; rotating spoofed X-Forwarded-For changes nothing", async () => {
    nextHour();
    const first = await get("/api/v1/status", { "x-forwarded-for": "198.51.100.0" });
    expect(first.status).toBe(200);
    expect(first.headers.get("ratelimit-limit")).toBe("60");
    expect(first.headers.get("ratelimit-remaining")).toBe("59");
    expect(first.headers.get("ratelimit-reset")).toBe("55");
    expect(first.headers.get("ratelimit-policy")).toBe("60;w=60, 1000;w=3600");
    for (let i = 1; i < 60; i++) {
      const res = await get("/api/v1/status", { "x-forwarded-for": `198.51.100.${i}` });
      expect(res.status).toBe(200);
    }
    const limited = await get("/api/v1/status", { "x-forwarded-for": "203.0.113.61" });
    await expectLimited(limited, 60);
    expect(limited.headers.get("retry-after")).toBe("55");
    for (const spoof of ["203.0.113.62", "10.0.0.1, 192.0.2.77", "2001:db8::1"]) {
      await expectLimited(await get("/api/v1/status", { "x-forwarded-for": spoof }), 60);
    }
    // Other groups have budgets of their own.
    expect((await get("/login")).status).toBe(200);
  });

  test("behind a trusted proxy, each forwarded client has a budget of its own", async () => {
    nextHour();
    const proxied = await serve({ CADDIS_TRUSTED_PROXIES: "127.0.0.1" });
    const from = (chain: string) =>
      fetch(`${proxied.url}/api/v1/status`, { headers: { "x-forwarded-for": chain } });
    // The right-most untrusted hop is the client; what it claims further left is ignored.
    for (let i = 0; i < 60; i++) expect((await from(`10.9.9.${i}, 198.51.100.7`)).status).toBe(200);
    await expectLimited(await from("198.51.100.7"), 60);
    const other = await from("10.9.9.9, 198.51.100.8");
    expect(other.status).toBe(200);
    expect(other.headers.get("ratelimit-remaining")).toBe("59");
  });

  test("the window resets: a minute later the budget is back, the hourly one still counts", async () => {
    nextHour();
    const small = await serve({ CADDIS_RATE_LIMITS: "api=3/min,5/hour" });
    const call = () => fetch(`${small.url}/api/v1/status`);
    for (let i = 0; i < 3; i++) expect((await call()).status).toBe(200);
    await expectLimited(await call(), 3);
    clock += 60_000;
    // The refused request counted too: 4 of 5 spent this hour, so one more goes through.
    expect((await call()).status).toBe(200);
    const hourly = await call();
    await expectLimited(hourly, 5);
    expect(hourly.headers.get("retry-after")).toBe(String(3600 - 65));
    expect(hourly.headers.get("ratelimit-policy")).toBe("3;w=60, 5;w=3600");
    nextHour();
    expect((await call()).status).toBe(200);
  });
});

describe("signed-in users", () => {
  test("are counted per user, not per address: two users on one IP have separate budgets", async () => {
    nextHour();
    const root = await setupSuperuser(t);
    await t.database.db.transaction((tx) =>
      createUser(tx, { actor: { kind: "system" } }, {
        email: "member@example.com",
        password: TEST_PASSWORD,
        isSuperuser: false,
      })
    );
    const login = await fetch(`${url}/api/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "member@example.com", password: TEST_PASSWORD }),
    });
    expect(login.status).toBe(200);
    const member = await login.json() as { accessToken: string };

    for (let i = 0; i < 60; i++) {
      expect((await get("/api/v1/status", bearer(root.accessToken))).status).toBe(200);
    }
    await expectLimited(await get("/api/v1/status", bearer(root.accessToken)), 60);
    const other = await get("/api/v1/status", bearer(member.accessToken));
    expect(other.status).toBe(200);
    expect(other.headers.get("ratelimit-remaining")).toBe("59");
    // The address itself still has its own anonymous budget.
    expect((await get("/api/v1/status")).headers.get("ratelimit-remaining")).toBe("59");
  });

  test("an API token has a budget of its own, apart from its owner's", async () => {
    nextHour();
    const root = await signIn(t, "root@example.com");
    const created = await fetch(`${url}/api/v1/tokens`, {
      method: "POST",
      headers: { ...bearer(root), "content-type": "application/json" },
      body: JSON.stringify({ name: "ci", permissions: ["audit.read"], expiresInDays: 1 }),
    });
    expect(created.status).toBe(201);
    const { secret } = await created.json() as { secret: string };
    const first = await get("/api/v1/status", bearer(secret));
    expect(first.headers.get("ratelimit-remaining")).toBe("59");
    expect((await get("/api/v1/status", bearer(root))).headers.get("ratelimit-remaining"))
      .toBe("58");
  });
});

describe("auth endpoints", () => {
  test("trip at their lower limit, HTML sign-in posts included, while pages stay open", async () => {
    nextHour();
    const refresh = () => fetch(`${url}/api/v1/auth/refresh`, { method: "POST" });
    for (let i = 0; i < 10; i++) expect((await refresh()).status).toBe(401);
    await expectLimited(await refresh(), 10);
    const form = await fetch(`${url}/login`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: url },
      body: "email=root%40example.com&password=x",
    });
    expect(form.status).toBe(429);
    const page = await get("/login");
    expect(page.status).toBe(200);
    expect(page.headers.get("ratelimit-limit")).toBe("300");
    // Reading under /api/v1/auth is ordinary API traffic: only posts carry credentials.
    const me = await get("/api/v1/auth/me");
    expect(me.status).toBe(401);
    expect(me.headers.get("ratelimit-limit")).toBe("60");
  });

  test("probes and static files are never limited and carry no RateLimit headers", async () => {
    nextHour();
    const small = await serve({ CADDIS_RATE_LIMITS: "api=1/min;auth=1/min;pages=1/min" });
    for (let i = 0; i < 5; i++) {
      for (const path of ["/healthz", "/readyz", "/static/app.css"]) {
        const res = await fetch(`${small.url}${path}`);
        expect(res.status).toBe(200);
        expect(res.headers.get("ratelimit-limit")).toBeNull();
      }
    }
    expect((await fetch(`${small.url}/login`)).status).toBe(200);
    expect((await fetch(`${small.url}/login`)).status).toBe(429);
  });
});

test("requests are grouped by path and method; only posts are auth", () => {
  expect(rateLimitGroup("GET", "/healthz")).toBeUndefined();
  expect(rateLimitGroup("GET", "/static/app.css")).toBeUndefined();
  expect(rateLimitGroup("POST", "/api/v1/auth/login")).toBe("auth");
  expect(rateLimitGroup("GET", "/api/v1/auth/sessions")).toBe("api");
  expect(rateLimitGroup("POST", "/api/v1/setup")).toBe("auth");
  expect(rateLimitGroup("GET", "/api/v1/tenants")).toBe("api");
  expect(rateLimitGroup("GET", "/api/v1/authority")).toBe("api");
  expect(rateLimitGroup("POST", "/login/2fa")).toBe("auth");
  expect(rateLimitGroup("POST", "/reset-password")).toBe("auth");
  expect(rateLimitGroup("GET", "/login")).toBe("pages");
  expect(rateLimitGroup("GET", "/api/v1/agent/ws")).toBe("agent");
  expect(rateLimitGroup("POST", "/api/v1/agent/enroll")).toBe("auth");
  expect(rateLimitGroup("POST", "/logout")).toBe("pages");
  expect(rateLimitGroup("GET", "/status")).toBe("pages");
});
