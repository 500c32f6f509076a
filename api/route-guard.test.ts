import { afterAll, beforeAll, expect, test } from "bun:test";
import { createTestApp, type TestApp } from "../scripts/testing/app.ts";

// Every route the app registers must refuse an anonymous caller, unless it is on this list of
// deliberately public routes. A new route that forgets its guard fails here.
const PUBLIC_ROUTES = new Set([
  "GET /healthz",
  "GET /readyz",
  "GET /api/v1/status",
  "GET /status",
  "GET /",
  "POST /api/v1/setup",
  "GET /setup",
  "POST /setup",
  "POST /api/v1/auth/login",
  "POST /api/v1/auth/2fa/verify",
  "POST /api/v1/auth/refresh",
  "POST /api/v1/auth/refresh/logout",
  "POST /api/v1/auth/password-reset",
  "GET /login",
  "POST /login",
  "POST /login/2fa",
  "GET /reset-password",
  "POST /reset-password",
]);

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

function concretePath(path: string): string {
  return path.replace(/:[A-Za-z]+/g, "x_1").replace(/\*$/, "x");
}

test("every non-public route refuses anonymous callers before doing anything", async () => {
  const routes = [
    ...new Set(
      t.app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path}`),
    ),
  ];
  expect(routes.length).toBeGreaterThan(30);
  const unguarded: string[] = [];
  for (const route of routes) {
    if (PUBLIC_ROUTES.has(route)) continue;
    const [method, path] = route.split(" ") as [string, string];
    const res = await t.app.request(concretePath(path), {
      method,
      headers: { "content-type": "application/json" },
      body: method === "GET" ? undefined : "{}",
    });
    const toLogin = [302, 303].includes(res.status) &&
      (res.headers.get("location") ?? "").startsWith("/login");
    if (res.status !== 401 && !toLogin) unguarded.push(`${route} → ${res.status}`);
  }
  expect(unguarded).toEqual([]);
});

test("every public route on the list still exists", () => {
  const registered = new Set(t.app.routes.map((r) => `${r.method} ${r.path}`));
  expect([...PUBLIC_ROUTES].filter((route) => !registered.has(route))).toEqual([]);
});
