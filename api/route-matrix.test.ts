import { afterAll, beforeAll, expect, test } from "bun:test";
import { createTestApp, type TestApp } from "../scripts/testing/app.ts";
import { callApi } from "../scripts/testing/api.ts";
import { addTestMember, addTestTenant, setupAcme } from "../scripts/testing/members.ts";
import { concretePath, type RouteEntry, routeTable } from "../scripts/testing/route-table.ts";
import { TENANT_HEADER } from "./auth/active-tenant.ts";
import type { Permission } from "./auth/permissions.ts";
import type { RouteAccess } from "./auth/route-access.ts";

// Every registered route × method, called as each kind of caller, against what the built-in roles
// promise. The holders below are written out by hand from the role definitions, not read
// from permissions.ts, so a change to a built-in role has to change this table too.
type Persona = "viewer" | "developer" | "tenantAdmin" | "otherTenantAdmin" | "superuser";
const PERSONAS: Persona[] = ["viewer", "developer", "tenantAdmin", "otherTenantAdmin", "superuser"];

const READS: Persona[] = ["viewer", "developer", "tenantAdmin"];
const HOLDERS: Record<Permission, Persona[]> = {
  "tenants.update": [],
  "users.read": ["tenantAdmin"],
  "users.manage": ["tenantAdmin"],
  "roles.read": ["tenantAdmin"],
  "roles.manage": ["tenantAdmin"],
  "tokens.manage": ["tenantAdmin"],
  "audit.read": ["tenantAdmin"],
  "audit.export": ["tenantAdmin"],
  "hosts.read": READS,
  "hosts.create": ["tenantAdmin"],
  "hosts.update": ["tenantAdmin"],
  "hosts.delete": ["tenantAdmin"],
  "sites.read": READS,
  "sites.create": ["tenantAdmin"],
  "sites.update": ["tenantAdmin"],
  "sites.delete": ["tenantAdmin"],
  "deployments.read": READS,
  "deployments.create": ["developer", "tenantAdmin"],
  "backups.read": READS,
  "backups.create": ["tenantAdmin"],
  "backups.restore": ["tenantAdmin"],
  "databases.read": READS,
  "databases.create": ["tenantAdmin"],
  "databases.reveal": ["tenantAdmin"],
  "firewall.read": READS,
  "firewall.manage": ["tenantAdmin"],
  "logs.read": ["developer", "tenantAdmin"],
};

let t: TestApp;
let acme: string;
const tokens = {} as Record<Persona, string>;

beforeAll(async () => {
  // Hundreds of requests per caller: budgets are tested elsewhere.
  t = await createTestApp({ env: { CADDIS_RATE_LIMITS: "api=off;auth=off;pages=off" } });
  ({ rootToken: tokens.superuser, acme } = await setupAcme(t));
  const globex = await addTestTenant(t, "Globex");
  const member = async (email: string, tenantId: string, roleId: string) =>
    (await addTestMember(t, { email, tenantId, roleIds: [roleId] })).accessToken;
  tokens.viewer = await member("viewer@example.com", acme, "role_viewer");
  tokens.developer = await member("developer@example.com", acme, "role_developer");
  tokens.tenantAdmin = await member("admin@example.com", acme, "role_admin");
  tokens.otherTenantAdmin = await member("admin@globex.example", globex, "role_admin");
});
afterAll(() => t.close());

// The strongest declaration wins: a page under a signed-in prefix may add a permission.
function effectiveAccess(route: RouteEntry): RouteAccess {
  const rank = { public: 0, signed_in: 1, superuser: 2, permission: 3 } as const;
  return [...route.declared].sort((a, b) => rank[b.kind] - rank[a.kind])[0] ?? { kind: "public" };
}

function allowed(access: RouteAccess, persona: Persona): boolean {
  if (persona === "superuser" || access.kind === "signed_in") return true;
  if (access.kind === "superuser") return false;
  return access.kind === "permission" && HOLDERS[access.permission].includes(persona);
}

// Every route is called with an empty JSON object, except GETs, which carry no body.
const emptyBody = (route: RouteEntry) => route.method === "GET" ? undefined : {};

// Routes that end the caller's own session run last, so the other routes still see a live one.
const endsSession = (route: RouteEntry) => /logout/.test(route.path);

test("every route allows and denies each kind of caller as the roles promise", async () => {
  const routes = routeTable(t.app)
    .filter((r) => effectiveAccess(r).kind !== "public")
    .sort((a, b) => Number(endsSession(a)) - Number(endsSession(b)));
  expect(routes.length).toBeGreaterThan(30);
  const wrong: string[] = [];
  for (const persona of PERSONAS) {
    for (const route of routes) {
      const access = effectiveAccess(route);
      // Another tenant's admin tries to act in Acme: everything there must look absent.
      const headers: Record<string, string> = persona === "otherTenantAdmin"
        ? { [TENANT_HEADER]: acme }
        : {};
      const path = access.kind === "permission" && access.tenantFrom === "path"
        ? concretePath(route.path.replace(":id", acme))
        : concretePath(route.path);
      const res = await callApi(t, tokens[persona], route.method, path, emptyBody(route), headers);
      const expected = persona === "otherTenantAdmin"
        ? "404"
        : allowed(access, persona)
        ? "allowed"
        : "403";
      const got = res.status === 401 || res.status === 403 || res.status === 404 &&
          persona === "otherTenantAdmin"
        ? String(res.status)
        : "allowed";
      if (got !== expected) {
        wrong.push(
          `${persona} ${route.method} ${route.path}: expected ${expected}, got ${res.status}`,
        );
      }
    }
  }
  expect(wrong).toEqual([]);
}, 60_000); // several hundred requests: past bun's 5 s default on a loaded machine

test("another tenant's admin gets 404 for this tenant's path-addressed routes without the header", async () => {
  const pathRoutes = routeTable(t.app).filter((r) => {
    const access = effectiveAccess(r);
    return access.kind === "permission" && access.tenantFrom === "path";
  });
  expect(pathRoutes.length).toBeGreaterThan(0);
  const wrong: string[] = [];
  for (const route of pathRoutes) {
    const path = concretePath(route.path.replace(":id", acme));
    const res = await callApi(t, tokens.otherTenantAdmin, route.method, path, emptyBody(route));
    if (res.status !== 404) wrong.push(`${route.method} ${route.path} → ${res.status}`);
  }
  expect(wrong).toEqual([]);
});

// The hosts feature's routes with the permission each needs, written out from the issue, so a
// route added or loosened without updating this list fails here even if the matrix agrees.
const HOST_ROUTES: Record<string, Permission | "public"> = {
  "POST /api/v1/hosts": "hosts.create",
  "GET /api/v1/hosts": "hosts.read",
  "GET /api/v1/hosts/:id": "hosts.read",
  "DELETE /api/v1/hosts/:id": "hosts.delete",
  "POST /api/v1/hosts/:id/enrolment": "hosts.update",
  "POST /api/v1/hosts/:id/diagnose": "hosts.update",
  "GET /api/v1/hosts/:id/commands": "hosts.read",
  "GET /api/v1/hosts/:id/commands/:commandId": "hosts.read",
  "DELETE /api/v1/hosts/:id/commands/:commandId": "hosts.update",
  "GET /api/v1/hosts/:id/metrics": "hosts.read",
  "POST /api/v1/agent/enroll": "public",
  "GET /api/v1/agent/ws": "public",
  "GET /hosts": "hosts.read",
  "GET /hosts/new": "hosts.create",
  "POST /hosts/new": "hosts.create",
  "GET /hosts/:id": "hosts.read",
  "POST /hosts/:id/diagnose": "hosts.update",
  "POST /hosts/:id/enrolment": "hosts.update",
  "POST /hosts/:id/revoke": "hosts.delete",
};

test("the hosts routes exist and declare the permissions the issue gives them", () => {
  const table = new Map(routeTable(t.app).map((r) => [`${r.method} ${r.path}`, r]));
  const declared = Object.fromEntries(
    Object.keys(HOST_ROUTES).map((key) => {
      const route = table.get(key);
      const access = route ? effectiveAccess(route) : undefined;
      return [key, access?.kind === "permission" ? access.permission : access?.kind ?? "missing"];
    }),
  );
  expect(declared).toEqual(HOST_ROUTES);
  const hostPaths = [...table.keys()].filter((key) => /\/(hosts|agent)(\/|$)/.test(key));
  expect(hostPaths.sort()).toEqual(Object.keys(HOST_ROUTES).sort());
});

// The sites feature's routes, likewise written out from the issue: reading needs sites.read,
// creating sites.create, changing or restarting sites.update, deleting sites.delete.
const SITE_ROUTES: Record<string, Permission> = {
  "POST /api/v1/sites": "sites.create",
  "GET /api/v1/sites": "sites.read",
  "GET /api/v1/sites/:id": "sites.read",
  "PATCH /api/v1/sites/:id": "sites.update",
  "DELETE /api/v1/sites/:id": "sites.delete",
  "POST /api/v1/sites/:id/restart": "sites.update",
  "GET /sites": "sites.read",
  "GET /sites/new": "sites.create",
  "POST /sites/new": "sites.create",
  "GET /sites/:id": "sites.read",
  "GET /sites/:id/status": "sites.read",
  "POST /sites/:id/edit": "sites.update",
  "POST /sites/:id/env": "sites.update",
  "POST /sites/:id/enabled": "sites.update",
  "POST /sites/:id/restart": "sites.update",
  "POST /sites/:id/delete": "sites.delete",
};

test("the sites routes exist and declare the permissions the issue gives them", () => {
  const table = new Map(routeTable(t.app).map((r) => [`${r.method} ${r.path}`, r]));
  const declared = Object.fromEntries(
    Object.keys(SITE_ROUTES).map((key) => {
      const route = table.get(key);
      const access = route ? effectiveAccess(route) : undefined;
      return [key, access?.kind === "permission" ? access.permission : access?.kind ?? "missing"];
    }),
  );
  expect(declared).toEqual(SITE_ROUTES);
  const sitePaths = [...table.keys()].filter((key) => /\/sites(\/|$)/.test(key));
  expect(sitePaths.sort()).toEqual(Object.keys(SITE_ROUTES).sort());
});
