import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { and, eq } from "drizzle-orm";
import { auditLog, roles } from "../../db/schema.ts";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { callApi, errorOf } from "../../scripts/testing/api.ts";
import { bearer } from "../../scripts/testing/auth.ts";
import { addTestMember, addTestTenant, setupAcme } from "../../scripts/testing/members.ts";
import { TENANT_HEADER } from "../auth/active-tenant.ts";
import { ALL_PERMISSIONS, BUILT_IN_ROLES } from "../auth/permissions.ts";

let t: TestApp;
let root: string;
let acme: string;
let admin: string;
let developer: string;
let otherOwner: string;
let otherRoleId: string;

interface Role {
  id: string;
  name: string;
  description: string;
  builtIn: boolean;
  parentId: string | null;
  permissions: string[];
  effectivePermissions: string[];
  memberCount: number;
}

const call = (token: string, method: string, path: string, body?: unknown, extra = {}) =>
  callApi(t, token, method, `/api/v1${path}`, body, extra);

async function createRole(token: string, body: Record<string, unknown>): Promise<Role> {
  const res = await call(token, "POST", "/roles", body);
  if (res.status !== 201) throw new Error(`create role: ${res.status} ${await res.text()}`);
  return await res.json() as Role;
}

async function listRoles(token = root): Promise<Role[]> {
  return ((await (await call(token, "GET", "/roles")).json()) as { roles: Role[] }).roles;
}

beforeAll(async () => {
  t = await createTestApp({ env: { CADDIS_RATE_LIMITS: "api=off;auth=off;pages=off" } });
  ({ rootToken: root, acme } = await setupAcme(t));
  const member = async (email: string, tenantId: string, roleId: string) =>
    (await addTestMember(t, { email, tenantId, roleIds: [roleId] })).accessToken;
  admin = await member("admin@example.com", acme, "role_admin");
  developer = await member("dev@example.com", acme, "role_developer");
  const globex = await addTestTenant(t, "Globex");
  otherOwner = await member("owner@globex.example", globex, "role_owner");
  otherRoleId = (await createRole(otherOwner, { name: "Globex ops", permissions: ["hosts.read"] }))
    .id;
});
afterAll(() => t.close());

describe("reading roles", () => {
  test("lists the permission catalogue with descriptions", async () => {
    const res = await call(admin, "GET", "/permissions");
    expect(res.status).toBe(200);
    const { permissions } = (await res.json()) as {
      permissions: { name: string; description: string }[];
    };
    expect(permissions.map((p) => p.name)).toEqual(ALL_PERMISSIONS);
    expect(permissions[0]).toEqual({
      name: "tenants.update",
      description: expect.stringContaining("settings"),
    });
  });

  test("lists built-in roles first with their grants and holders, and no other tenant's", async () => {
    const list = await listRoles(admin);
    expect(list.slice(0, BUILT_IN_ROLES.length).map((r) => r.id)).toEqual(
      BUILT_IN_ROLES.map((r) => r.id),
    );
    const owner = list.find((r) => r.id === "role_owner");
    expect(owner).toMatchObject({ builtIn: true, memberCount: 1, parentId: null });
    expect(owner?.effectivePermissions).toEqual(ALL_PERMISSIONS);
    expect(list.find((r) => r.id === "role_admin")?.memberCount).toBe(1);
    expect(list.some((r) => r.id === otherRoleId)).toBe(false);
  });

  test("a developer may not read roles or the catalogue", async () => {
    expect((await call(developer, "GET", "/roles")).status).toBe(403);
    expect((await call(developer, "GET", "/permissions")).status).toBe(403);
  });
});

describe("creating roles", () => {
  test("creates a role inheriting a built-in one, and audits it", async () => {
    const role = await createRole(admin, {
      name: "  Deployers  ",
      description: "Ship code",
      parentId: "role_viewer",
      permissions: ["deployments.create", "deployments.create"],
    });
    expect(role.id).toMatch(/^rol_[a-z0-9]{24}$/);
    expect(role).toMatchObject({
      name: "Deployers",
      builtIn: false,
      parentId: "role_viewer",
      permissions: ["deployments.create"],
      memberCount: 0,
    });
    expect(role.effectivePermissions).toContain("hosts.read");
    expect(role.effectivePermissions).toContain("deployments.create");
    const [row] = await t.deps.database.db.select().from(auditLog).where(and(
      eq(auditLog.action, "roles.create"),
      eq(auditLog.resourceId, role.id),
    ));
    expect(row).toMatchObject({ tenantId: acme, outcome: "success" });
    expect(row?.details).toMatchObject({ name: "Deployers", permissions: ["deployments.create"] });
  });

  test("an admin cannot create a role holding tenants.update, directly or inherited", async () => {
    const direct = await errorOf(
      await call(admin, "POST", "/roles", { name: "Sneaky", permissions: ["tenants.update"] }),
      403,
    );
    expect(direct.message).toContain("tenants.update");
    const inherited = await errorOf(
      await call(admin, "POST", "/roles", {
        name: "Sneaky",
        parentId: "role_owner",
        permissions: [],
      }),
      403,
    );
    expect(inherited.message).toContain("tenants.update");
    const rows = await t.deps.database.db.select().from(roles).where(eq(roles.name, "Sneaky"));
    expect(rows).toEqual([]);
    const denied = await t.deps.database.db.select().from(auditLog)
      .where(and(eq(auditLog.action, "roles.create"), eq(auditLog.outcome, "denied")));
    expect(denied).toHaveLength(2);
    expect(denied[0]?.tenantId).toBe(acme);
  });

  test("refuses a taken name, a built-in name in any case, and an unknown permission", async () => {
    await createRole(admin, { name: "Taken", permissions: [] });
    expect((await call(admin, "POST", "/roles", { name: "taken", permissions: [] })).status)
      .toBe(409);
    const builtIn = await errorOf(
      await call(admin, "POST", "/roles", { name: "Owner", permissions: [] }),
      409,
    );
    expect(builtIn.message).toContain("built-in");
    const unknown = await errorOf(
      await call(admin, "POST", "/roles", { name: "X", permissions: ["sites.read", "sites.nuke"] }),
      400,
    );
    expect(unknown.code).toBe("invalid_input");
    expect(unknown.fields?.["permissions.1"]).toContain('"sites.nuke" is not a known permission');
  });

  test("refuses markup and SQL in names; keeps them verbatim in descriptions", async () => {
    for (const name of ["<script>alert(1)</script>", "' or 1=1 --", "", "x".repeat(51)]) {
      const error = await errorOf(
        await call(admin, "POST", "/roles", { name, permissions: [] }),
        400,
      );
      expect(error.fields?.name).toBeDefined();
    }
    const description = "<script>alert(1)</script> ' or 1=1 --";
    const role = await createRole(admin, { name: "Quoted", description, permissions: [] });
    expect(role.description).toBe(description);
    expect((await listRoles()).find((r) => r.id === role.id)?.description).toBe(description);
  });

  test("another tenant's role as parent is a 404 exactly like a missing one", async () => {
    const body = (parentId: string) => ({ name: "Child", parentId, permissions: [] });
    const foreign = await errorOf(await call(admin, "POST", "/roles", body(otherRoleId)), 404);
    const missing = await errorOf(
      await call(admin, "POST", "/roles", body("rol_aaaaaaaaaaaaaaaaaaaaaaaa")),
      404,
    );
    expect(foreign).toEqual(missing);
  });

  test("a developer cannot use any managing route", async () => {
    const role = await createRole(admin, { name: "Dev target", permissions: [] });
    expect((await call(developer, "POST", "/roles", { name: "D", permissions: [] })).status)
      .toBe(403);
    expect((await call(developer, "PATCH", `/roles/${role.id}`, { name: "E" })).status).toBe(403);
    expect((await call(developer, "DELETE", `/roles/${role.id}`)).status).toBe(403);
  });
});

describe("changing roles", () => {
  test("renames, regrants and reparents a role, auditing before and after", async () => {
    const role = await createRole(admin, {
      name: "Ops",
      parentId: "role_viewer",
      permissions: ["logs.read"],
    });
    const res = await call(admin, "PATCH", `/roles/${role.id}`, {
      name: "Operations",
      parentId: null,
      permissions: ["hosts.update"],
    });
    expect(res.status).toBe(200);
    const changed = (await res.json()) as Role;
    expect(changed).toMatchObject({ name: "Operations", parentId: null });
    expect(changed.effectivePermissions).toEqual(["hosts.update"]);
    const [row] = await t.deps.database.db.select().from(auditLog).where(and(
      eq(auditLog.action, "roles.update"),
      eq(auditLog.resourceId, role.id),
    ));
    expect(row?.details).toEqual({
      before: { name: "Ops", description: "", parentId: "role_viewer", permissions: ["logs.read"] },
      after: { name: "Operations", description: "", parentId: null, permissions: ["hosts.update"] },
    });
  });

  test("built-in roles cannot be changed or deleted", async () => {
    const patch = await errorOf(
      await call(root, "PATCH", "/roles/role_viewer", { name: "v" }),
      403,
    );
    expect(patch.message).toBe("Built-in roles cannot be changed");
    expect((await call(root, "DELETE", "/roles/role_viewer")).status).toBe(403);
  });

  test("another tenant's role is a 404 exactly like a missing one, for edits and deletes", async () => {
    const missing = "rol_aaaaaaaaaaaaaaaaaaaaaaaa";
    for (const method of ["PATCH", "DELETE"]) {
      const body = method === "PATCH" ? { name: "Mine now" } : undefined;
      const foreign = await errorOf(await call(admin, method, `/roles/${otherRoleId}`, body), 404);
      expect(foreign).toEqual(
        await errorOf(await call(admin, method, `/roles/${missing}`, body), 404),
      );
    }
    const [row] = await t.deps.database.db.select().from(roles).where(eq(roles.id, otherRoleId));
    expect(row?.name).toBe("Globex ops");
  });

  test("refuses a parent chain that comes back to the role", async () => {
    const a = await createRole(admin, { name: "Cycle A", permissions: [] });
    const b = await createRole(admin, { name: "Cycle B", parentId: a.id, permissions: [] });
    for (const parentId of [b.id, a.id]) {
      const error = await errorOf(await call(admin, "PATCH", `/roles/${a.id}`, { parentId }), 400);
      expect(error.code).toBe("invalid_input");
      expect(error.fields?.parentId).toContain("inherit from itself");
    }
  });

  test("two concurrent edits cannot build a cycle between them", async () => {
    const a = await createRole(admin, { name: "Race A", permissions: [] });
    const b = await createRole(admin, { name: "Race B", permissions: [] });
    const results = await Promise.all([
      call(admin, "PATCH", `/roles/${a.id}`, { parentId: b.id }),
      call(admin, "PATCH", `/roles/${b.id}`, { parentId: a.id }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 400]);
    const parents = (await listRoles()).filter((r) => r.id === a.id || r.id === b.id)
      .map((r) => r.parentId);
    expect(parents.filter((p) => p !== null)).toHaveLength(1);
  });

  test("an admin cannot raise a role, or a role inheriting from it, above themselves", async () => {
    const base = await createRole(admin, { name: "Base", permissions: ["hosts.read"] });
    const heir = await createRole(admin, { name: "Heir", parentId: base.id, permissions: [] });
    const grant = await errorOf(
      await call(admin, "PATCH", `/roles/${base.id}`, { permissions: ["tenants.update"] }),
      403,
    );
    expect(grant.message).toContain("tenants.update");
    expect((await call(admin, "PATCH", `/roles/${base.id}`, { parentId: "role_owner" })).status)
      .toBe(403);
    const after = (await listRoles()).find((r) => r.id === heir.id);
    expect(after?.effectivePermissions).toEqual(["hosts.read"]);
  });

  test("an admin cannot edit a role an owner built with more than the admin holds", async () => {
    const strong = await createRole(root, { name: "Strong", permissions: ["tenants.update"] });
    const error = await errorOf(
      await call(admin, "PATCH", `/roles/${strong.id}`, { description: "mine" }),
      403,
    );
    expect(error.message).toContain("tenants.update");
  });

  test("changing a held role's grants takes effect on the holder's next request", async () => {
    const role = await createRole(root, { name: "Auditors plus", permissions: ["audit.read"] });
    const holder = await addTestMember(t, {
      email: "holder@example.com",
      tenantId: acme,
      roleIds: [role.id],
    });
    expect((await call(holder.accessToken, "GET", "/roles")).status).toBe(403);
    await call(root, "PATCH", `/roles/${role.id}`, { permissions: ["audit.read", "roles.read"] });
    expect((await call(holder.accessToken, "GET", "/roles")).status).toBe(200);
    await call(root, "PATCH", `/roles/${role.id}`, { permissions: ["audit.read"] });
    expect((await call(holder.accessToken, "GET", "/roles")).status).toBe(403);
  });

  test("a superuser acts on another tenant's roles through the tenant header", async () => {
    const globex = { [TENANT_HEADER]: (await me(otherOwner)).activeTenantId };
    const res = await call(root, "PATCH", `/roles/${otherRoleId}`, { description: "ok" }, globex);
    expect(res.status).toBe(200);
  });
});

async function me(token: string) {
  const res = await t.app.request("/api/v1/auth/me", { headers: bearer(token) });
  return (await res.json()) as { activeTenantId: string };
}

describe("deleting roles", () => {
  test("refuses while a member holds it or a role inherits from it, then deletes and audits", async () => {
    const role = await createRole(root, { name: "Doomed", permissions: ["sites.read"] });
    const holder = await addTestMember(t, {
      email: "doomed@example.com",
      tenantId: acme,
      roleIds: [role.id],
    });
    const held = await errorOf(await call(admin, "DELETE", `/roles/${role.id}`), 409);
    expect(held.message).toContain("held by 1 member");
    await call(root, "PUT", `/members/${holder.userId}/roles`, { roles: [] });
    const child = await createRole(admin, {
      name: "Doomed child",
      parentId: role.id,
      permissions: [],
    });
    const inherited = await errorOf(await call(admin, "DELETE", `/roles/${role.id}`), 409);
    expect(inherited.message).toContain('"Doomed child"');
    expect((await call(admin, "DELETE", `/roles/${child.id}`)).status).toBe(204);
    expect((await call(admin, "DELETE", `/roles/${role.id}`)).status).toBe(204);
    expect((await listRoles()).some((r) => r.id === role.id)).toBe(false);
    const audited = await t.deps.database.db.select().from(auditLog)
      .where(and(eq(auditLog.action, "roles.delete"), eq(auditLog.resourceId, role.id)));
    expect(audited).toHaveLength(1);
  });
});

describe("the database backstop", () => {
  test("a parent chain deeper than the database allows is a 400, not a 500", async () => {
    let parentId: string | undefined;
    for (let depth = 1; depth <= 34; depth++) {
      parentId = (await createRole(admin, { name: `Deep ${depth}`, parentId, permissions: [] })).id;
    }
    const error = await errorOf(
      await call(admin, "POST", "/roles", { name: "Too deep", parentId, permissions: [] }),
      400,
    );
    expect(error.code).toBe("invalid_input");
    expect(error.fields?.parentId).toContain("more than 32 deep");
    expect(t.logText()).not.toContain('"request error"');
  });
});
