import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { and, eq } from "drizzle-orm";
import { newId } from "../../db/ids.ts";
import { apiTokens, auditLog, users } from "../../db/schema.ts";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { callApi, errorOf } from "../../scripts/testing/api.ts";
import { addTestMember, addTestTenant, setupAcme } from "../../scripts/testing/members.ts";
import { insertTestSite } from "../../scripts/testing/sites.ts";
import { TENANT_HEADER } from "../auth/active-tenant.ts";
import { can } from "../auth/grants.ts";

let t: TestApp;
let root: string;
let acme: string;
let globex: string;
let admin: { userId: string; accessToken: string };
let developer: { userId: string; accessToken: string };
let owner: { userId: string; accessToken: string };
let outsider: { userId: string; accessToken: string };

interface Member {
  userId: string;
  email: string;
  joinedAt: string;
  totpEnabled: boolean;
  disabled: boolean;
  roles: { assignmentId: string; roleId: string; roleName: string; siteId: string | null }[];
}

const call = (token: string, method: string, path: string, body?: unknown, extra = {}) =>
  callApi(t, token, method, `/api/v1${path}`, body, extra);

const setRoles = (token: string, userId: string, roles: unknown[], extra = {}) =>
  call(token, "PUT", `/members/${userId}/roles`, { roles }, extra);

async function members(token = root, extra = {}): Promise<Member[]> {
  const res = await call(token, "GET", "/members", undefined, extra);
  expect(res.status).toBe(200);
  return ((await res.json()) as { members: Member[] }).members;
}

async function roleIdsOf(userId: string): Promise<string[]> {
  const member = (await members()).find((m) => m.userId === userId);
  return (member?.roles ?? []).map((r) => r.siteId ? `${r.roleId}@${r.siteId}` : r.roleId).sort();
}

beforeAll(async () => {
  t = await createTestApp({ env: { CADDIS_RATE_LIMITS: "api=off;auth=off;pages=off" } });
  ({ rootToken: root, acme } = await setupAcme(t));
  globex = await addTestTenant(t, "Globex");
  await insertTestSite(t.deps.database.db, acme, { id: "site_x" });
  const member = (email: string, tenantId: string, roleIds: string[]) =>
    addTestMember(t, { email, tenantId, roleIds });
  admin = await member("admin@example.com", acme, ["role_admin"]);
  developer = await member("dev@example.com", acme, ["role_developer"]);
  owner = await member("owner@example.com", acme, ["role_owner"]);
  outsider = await member("someone@globex.example", globex, ["role_owner"]);
}, 30_000);
afterAll(() => t.close());

describe("listing members", () => {
  test("lists the tenant's members with their roles, and nobody else's", async () => {
    const list = await members(admin.accessToken);
    expect(list.map((m) => m.email)).toEqual([
      "admin@example.com",
      "dev@example.com",
      "owner@example.com",
      "root@example.com",
    ]);
    const dev = list.find((m) => m.userId === developer.userId);
    expect(dev).toMatchObject({ totpEnabled: false, disabled: false });
    expect(dev?.roles).toEqual([{
      assignmentId: expect.stringMatching(/^ura_/),
      roleId: "role_developer",
      roleName: "developer",
      siteId: null,
    }]);
    expect(JSON.stringify(list)).not.toContain("passwordHash");
  });

  test("a developer may not list members", async () => {
    expect((await call(developer.accessToken, "GET", "/members")).status).toBe(403);
  });
});

describe("changing a member's roles", () => {
  test("replaces the assignments, scoping site roles to their site, and audits it", async () => {
    const res = await setRoles(admin.accessToken, developer.userId, [
      { roleId: "role_viewer" },
      { roleId: "role_developer", siteId: "site_x" },
    ]);
    expect(res.status).toBe(200);
    const view = (await res.json()) as Member;
    expect(view.roles.map((r) => [r.roleId, r.siteId])).toEqual([
      ["role_viewer", null],
      ["role_developer", "site_x"],
    ]);
    const grants = await t.deps.loadGrants(developer.userId, acme);
    expect([...grants.bySite.keys()]).toEqual(["site_x"]);
    expect(can(grants, "deployments.create", "site_x")).toBe(true);
    expect(can(grants, "deployments.create")).toBe(false);
    expect(can(grants, "deployments.create", "site_y")).toBe(false);
    const [row] = await t.deps.database.db.select().from(auditLog).where(and(
      eq(auditLog.action, "members.update_roles"),
      eq(auditLog.resourceId, developer.userId),
    ));
    expect(row?.details).toEqual({
      email: "dev@example.com",
      before: [{ roleId: "role_developer" }],
      after: [{ roleId: "role_viewer" }, { roleId: "role_developer", siteId: "site_x" }],
    });
    await setRoles(admin.accessToken, developer.userId, [{ roleId: "role_developer" }]);
  });

  test("an admin cannot make themselves or anyone else an owner", async () => {
    for (const userId of [admin.userId, developer.userId]) {
      const error = await errorOf(
        await setRoles(admin.accessToken, userId, [{ roleId: "role_owner" }]),
        403,
      );
      expect(error.message).toContain("tenants.update");
    }
    expect(await roleIdsOf(admin.userId)).toEqual(["role_admin"]);
    expect(await roleIdsOf(developer.userId)).toEqual(["role_developer"]);
    const denied = await t.deps.database.db.select().from(auditLog).where(and(
      eq(auditLog.action, "members.update_roles"),
      eq(auditLog.outcome, "denied"),
      eq(auditLog.resourceId, admin.userId),
    ));
    expect(denied).toHaveLength(1);
    expect(denied[0]).toMatchObject({ actorId: admin.userId, tenantId: acme });
    expect(denied[0]?.details).toEqual({ reason: expect.stringContaining("tenants.update") });
  });

  test("an admin cannot change or remove an owner, who holds more than they do", async () => {
    const error = await errorOf(
      await setRoles(admin.accessToken, owner.userId, [{ roleId: "role_viewer" }]),
      403,
    );
    expect(error.message).toContain("tenants.update");
    expect((await call(admin.accessToken, "DELETE", `/members/${owner.userId}`)).status).toBe(403);
    expect(await roleIdsOf(owner.userId)).toEqual(["role_owner"]);
  });

  test("only a superuser can touch a superuser's membership", async () => {
    const rootId = (await members()).find((m) => m.email === "root@example.com")?.userId ?? "";
    const error = await errorOf(
      await setRoles(owner.accessToken, rootId, [{ roleId: "role_viewer" }]),
      403,
    );
    expect(error.message).toContain("superuser");
  });

  test("a developer cannot use the managing routes", async () => {
    const res = await setRoles(developer.accessToken, developer.userId, [{ roleId: "role_admin" }]);
    expect(res.status).toBe(403);
    expect((await call(developer.accessToken, "DELETE", `/members/${admin.userId}`)).status)
      .toBe(403);
  });

  test("another tenant's member is a 404 exactly like an unknown user", async () => {
    for (const method of ["PUT", "DELETE"]) {
      const send = (userId: string) =>
        method === "PUT"
          ? setRoles(root, userId, [{ roleId: "role_viewer" }])
          : call(root, "DELETE", `/members/${userId}`);
      const foreign = await errorOf(await send(outsider.userId), 404);
      expect(foreign).toEqual(await errorOf(await send("usr_doesnotexist"), 404));
    }
    const stillThere = await members(root, { [TENANT_HEADER]: globex });
    expect(stillThere.find((m) => m.userId === outsider.userId)?.roles[0]?.roleId)
      .toBe("role_owner");
  });

  test("another tenant's role is a 404 exactly like a missing one", async () => {
    const created = await call(outsider.accessToken, "POST", "/roles", {
      name: "Globex only",
      permissions: ["hosts.read"],
    });
    const foreignRole = ((await created.json()) as { id: string }).id;
    const foreign = await errorOf(
      await setRoles(admin.accessToken, developer.userId, [{ roleId: foreignRole }]),
      404,
    );
    const missing = await errorOf(
      await setRoles(admin.accessToken, developer.userId, [{ roleId: "rol_nope" }]),
      404,
    );
    expect(foreign).toEqual(missing);
  });

  test("rejects duplicates, malformed site ids and unknown fields such as isSuperuser", async () => {
    const duplicate = await errorOf(
      await setRoles(admin.accessToken, developer.userId, [
        { roleId: "role_viewer" },
        { roleId: "role_viewer" },
      ]),
      400,
    );
    expect(duplicate.fields?.["roles.1"]).toBe("is listed twice");
    for (const siteId of ["site_X", "x", "site_a' or 1=1 --", `site_${"a".repeat(61)}`]) {
      const res = await setRoles(admin.accessToken, developer.userId, [
        { roleId: "role_viewer", siteId },
      ]);
      expect(res.status).toBe(400);
    }
    // A site of another tenant, or one that does not exist, is named in the error and not stored.
    const { siteId: foreign } = await insertTestSite(t.deps.database.db, globex);
    const elsewhere = await errorOf(
      await setRoles(admin.accessToken, developer.userId, [
        { roleId: "role_viewer" },
        { roleId: "role_developer", siteId: foreign },
        { roleId: "role_developer", siteId: "site_missing" },
      ]),
      400,
    );
    expect(elsewhere.fields).toEqual({
      "roles.1.siteId": `no site "${foreign}" in this tenant`,
      "roles.2.siteId": 'no site "site_missing" in this tenant',
    });
    const sneaky = await call(admin.accessToken, "PUT", `/members/${admin.userId}/roles`, {
      roles: [{ roleId: "role_admin" }],
      isSuperuser: true,
    });
    expect(sneaky.status).toBe(400);
    const [row] = await t.deps.database.db.select({ isSuperuser: users.isSuperuser }).from(users)
      .where(eq(users.id, admin.userId));
    expect(row?.isSuperuser).toBe(false);
  });

  test("a role granted through a custom role works on the next request and stops when removed", async () => {
    const viewer = await addTestMember(t, {
      email: "viewer@example.com",
      tenantId: acme,
      roleIds: ["role_viewer"],
    });
    const created = await call(admin.accessToken, "POST", "/roles", {
      name: "Role managers",
      permissions: ["roles.read", "roles.manage"],
    });
    const roleManagers = ((await created.json()) as { id: string }).id;
    const newRole = { name: "Made by a viewer", permissions: ["hosts.read"] };
    expect((await call(viewer.accessToken, "POST", "/roles", newRole)).status).toBe(403);

    await setRoles(admin.accessToken, viewer.userId, [
      { roleId: "role_viewer" },
      { roleId: roleManagers },
    ]);
    expect((await call(viewer.accessToken, "POST", "/roles", newRole)).status).toBe(201);

    await setRoles(admin.accessToken, viewer.userId, [{ roleId: "role_viewer" }]);
    const again = { ...newRole, name: "Made by a viewer again" };
    expect((await call(viewer.accessToken, "POST", "/roles", again)).status).toBe(403);
  });
});

describe("the last owner", () => {
  test("cannot drop their own ownership or leave, nor be removed by a superuser", async () => {
    const solo = await addTestTenant(t, "Solo");
    const only = await addTestMember(t, {
      email: "only@solo.example",
      tenantId: solo,
      roleIds: ["role_owner"],
    });
    const demote = await errorOf(
      await setRoles(only.accessToken, only.userId, [{ roleId: "role_admin" }]),
      409,
    );
    expect(demote.message).toContain("at least one owner");
    await insertTestSite(t.deps.database.db, solo, { id: "site_a" });
    const siteOnly = await setRoles(only.accessToken, only.userId, [
      { roleId: "role_owner", siteId: "site_a" },
    ]);
    expect(siteOnly.status).toBe(409);
    expect((await call(only.accessToken, "DELETE", `/members/${only.userId}`)).status).toBe(409);
    const asRoot = { [TENANT_HEADER]: solo };
    expect((await setRoles(root, only.userId, [], asRoot)).status).toBe(409);
    expect((await call(root, "DELETE", `/members/${only.userId}`, undefined, asRoot)).status)
      .toBe(409);
    const [kept] = await members(root, asRoot);
    expect(kept?.roles.map((r) => r.roleId)).toEqual(["role_owner"]);
  });

  test("can hand over to a second owner and then step down", async () => {
    const duo = await addTestTenant(t, "Duo");
    const first = await addTestMember(t, {
      email: "first@duo.example",
      tenantId: duo,
      roleIds: ["role_owner"],
    });
    const second = await addTestMember(t, {
      email: "second@duo.example",
      tenantId: duo,
      roleIds: ["role_viewer"],
    });
    expect((await setRoles(first.accessToken, second.userId, [{ roleId: "role_owner" }])).status)
      .toBe(200);
    expect((await setRoles(first.accessToken, first.userId, [{ roleId: "role_viewer" }])).status)
      .toBe(200);
  });
});

describe("removing a member", () => {
  test("drops their roles and API tokens here, ends their access at once, and audits it", async () => {
    const leaver = await addTestMember(t, {
      email: "leaver@example.com",
      tenantId: acme,
      roleIds: ["role_developer"],
    });
    await t.deps.database.db.insert(apiTokens).values({
      id: newId("tok"),
      userId: leaver.userId,
      tenantId: acme,
      name: "ci",
      secretHash: "0".repeat(64),
      permissions: ["deployments.create"],
      expiresAt: new Date(Date.UTC(2100, 0, 1)),
    });
    expect((await call(leaver.accessToken, "GET", "/roles")).status).toBe(403);
    expect((await call(admin.accessToken, "DELETE", `/members/${leaver.userId}`)).status)
      .toBe(204);
    expect((await members()).some((m) => m.userId === leaver.userId)).toBe(false);
    const tokens = await t.deps.database.db.select().from(apiTokens)
      .where(eq(apiTokens.userId, leaver.userId));
    expect(tokens).toEqual([]);
    expect((await t.deps.loadGrants(leaver.userId, acme)).tenantWide.size).toBe(0);
    const after = await call(leaver.accessToken, "GET", "/roles", undefined, {
      [TENANT_HEADER]: acme,
    });
    expect(after.status).toBe(404);
    const [row] = await t.deps.database.db.select().from(auditLog).where(and(
      eq(auditLog.action, "members.remove"),
      eq(auditLog.resourceId, leaver.userId),
    ));
    expect(row?.details).toEqual({
      email: "leaver@example.com",
      roles: [{ roleId: "role_developer" }],
    });
  });
});
