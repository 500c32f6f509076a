import { afterAll, beforeAll, expect, test } from "bun:test";
import { createTestApp, type TestApp } from "../scripts/testing/app.ts";
import { concretePath, routeTable } from "../scripts/testing/route-table.ts";

// The deliberately public routes, listed by hand: a route that declares itself public without
// being on this list (or the other way round) fails below, so opening a route is a visible act.
const PUBLIC_ROUTES = new Set([
  "GET /healthz",
  "GET /readyz",
  "GET /api/v1/status",
  "GET /status",
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
  "POST /api/v1/invitations/accept",
  "GET /invite",
  "POST /invite",
  // Agents have no account: the one-time enrolment token, then a signed challenge, are the proof.
  "POST /api/v1/agent/enroll",
  "GET /api/v1/agent/ws",
]);

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

test("every route declares exactly one kind of access", () => {
  const routes = routeTable(t.app);
  expect(routes.length).toBeGreaterThan(30);
  const undeclared = routes.filter((r) => r.declared.length === 0).map((r) =>
    `${r.method} ${r.path}`
  );
  expect(undeclared).toEqual([]);
  // A page under a signed-in prefix may add a permission; anything else mixing kinds is a mistake.
  const mixed = routes.filter((r) => {
    const kinds = new Set(r.declared.map((d) => d.kind));
    kinds.delete("signed_in");
    return kinds.size > 1 || (kinds.has("public") && r.declared.length > 1);
  });
  expect(mixed.map((r) => `${r.method} ${r.path}`)).toEqual([]);
});

test("the routes declared public are exactly the listed ones", () => {
  const declaredPublic = routeTable(t.app)
    .filter((r) => r.declared.some((d) => d.kind === "public"))
    .map((r) => `${r.method} ${r.path}`);
  expect(declaredPublic.sort()).toEqual([...PUBLIC_ROUTES].sort());
});

test("every non-public route refuses anonymous callers before doing anything", async () => {
  const unguarded: string[] = [];
  for (const { method, path } of routeTable(t.app)) {
    if (PUBLIC_ROUTES.has(`${method} ${path}`)) continue;
    const res = await t.app.request(concretePath(path), {
      method,
      headers: { "content-type": "application/json" },
      body: method === "GET" ? undefined : "{}",
    });
    const toLogin = [302, 303].includes(res.status) &&
      (res.headers.get("location") ?? "").startsWith("/login");
    if (res.status !== 401 && !toLogin) unguarded.push(`${method} ${path} → ${res.status}`);
  }
  expect(unguarded).toEqual([]);
});
