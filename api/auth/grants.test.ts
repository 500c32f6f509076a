import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { newId } from "../../db/ids.ts";
import { rolePermissions, roles, userRoles } from "../../db/schema.ts";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { addTestMember, addTestTenant } from "../../scripts/testing/members.ts";
import { insertTestSite } from "../../scripts/testing/sites.ts";
import { can, canOnSomeSite, type Grants, missingPermissions, restrictGrants } from "./grants.ts";
import type { Permission } from "./permissions.ts";

const grants = (tenantWide: Permission[], bySite: Record<string, Permission[]> = {}): Grants => ({
  superuser: false,
  tenantWide: new Set(tenantWide),
  bySite: new Map(Object.entries(bySite).map(([site, list]) => [site, new Set(list)])),
});

describe("can", () => {
  test("a site-scoped grant allows that site only, never the tenant as a whole", () => {
    const g = grants(["sites.read"], { site_a: ["deployments.create"] });
    expect(can(g, "deployments.create", "site_a")).toBe(true);
    expect(can(g, "deployments.create", "site_b")).toBe(false);
    expect(can(g, "deployments.create")).toBe(false);
    expect(can(g, "sites.read", "site_b")).toBe(true);
  });

  test("canOnSomeSite: held tenant-wide or on any one site, not merely on another permission", () => {
    const g = grants(["hosts.read"], { site_a: ["sites.read"], site_b: ["logs.read"] });
    expect(canOnSomeSite(g, "sites.read")).toBe(true);
    expect(canOnSomeSite(g, "hosts.read")).toBe(true);
    expect(canOnSomeSite(g, "sites.update")).toBe(false);
    expect(canOnSomeSite(grants([]), "sites.read")).toBe(false);
  });

  test("a superuser is allowed everything, anywhere", () => {
    expect(can({ ...grants([]), superuser: true }, "backups.restore", "site_z")).toBe(true);
  });

  test("missingPermissions names exactly what is not held, once each", () => {
    const g = grants(["hosts.read"], { site_a: ["logs.read"] });
    expect(missingPermissions(g, ["hosts.read", "logs.read", "logs.read"])).toEqual(["logs.read"]);
    expect(missingPermissions(g, ["hosts.read", "logs.read"], "site_a")).toEqual([]);
  });

  test("restricting to a token's list never adds what the owner lacks", () => {
    const owner = grants(["hosts.read", "sites.read"], { site_a: ["logs.read", "sites.update"] });
    const token = restrictGrants(owner, new Set(["hosts.read", "logs.read", "audit.read"]));
    expect([...token.tenantWide]).toEqual(["hosts.read"]);
    expect(can(token, "audit.read")).toBe(false);
    expect(can(token, "logs.read", "site_a")).toBe(true);
    expect(can(token, "sites.update", "site_a")).toBe(false);
    const fromSuperuser = restrictGrants(
      { ...grants([]), superuser: true },
      new Set(["audit.read"]),
    );
    expect(fromSuperuser.superuser).toBe(false);
    expect(can(fromSuperuser, "audit.read")).toBe(true);
    expect(can(fromSuperuser, "audit.export")).toBe(false);
  });
});

describe("grantsLoader", () => {
  let t: TestApp;
  let tenantA: string;
  let tenantB: string;
  let userId: string;

  beforeAll(async () => {
    t = await createTestApp();
    tenantA = await addTestTenant(t, "A");
    tenantB = await addTestTenant(t, "B");
    userId = (await addTestMember(t, { email: "dev@example.com", tenantId: tenantA, roleIds: [] }))
      .userId;
  });
  afterAll(() => t.close());

  const db = () => t.deps.database.db;
  const customRole = async (tenantId: string, perms: Permission[], parentId?: string) => {
    const id = newId("rol");
    await db().insert(roles).values({ id, tenantId, name: id, parentId });
    if (perms.length) {
      await db().insert(rolePermissions).values(
        perms.map((permission) => ({ roleId: id, permission })),
      );
    }
    return id;
  };

  test("a member without roles may do nothing", async () => {
    const g = await t.deps.loadGrants(userId, tenantA);
    expect(g.tenantWide.size).toBe(0);
    expect(g.bySite.size).toBe(0);
  });

  test("follows a custom role up to its built-in parent, and sees changes on the next call", async () => {
    const child = await customRole(tenantA, ["logs.read"], "role_viewer");
    await db().insert(userRoles).values({
      id: newId("ura"),
      tenantId: tenantA,
      userId,
      roleId: child,
    });
    let g = await t.deps.loadGrants(userId, tenantA);
    expect(can(g, "logs.read")).toBe(true);
    expect(can(g, "hosts.read")).toBe(true);
    expect(can(g, "deployments.create")).toBe(false);
    await db().insert(rolePermissions).values({ roleId: "role_viewer", permission: "sites.create" })
      .onConflictDoNothing();
    g = await t.deps.loadGrants(userId, tenantA);
    expect(can(g, "sites.create")).toBe(true);
    await db().delete(rolePermissions).where(eq(rolePermissions.permission, "sites.create"));
    g = await t.deps.loadGrants(userId, tenantA);
    expect(can(g, "sites.create")).toBe(false);
    await db().delete(userRoles).where(eq(userRoles.roleId, child));
  });

  test("a site-scoped assignment grants on that site only", async () => {
    await insertTestSite(db(), tenantA, { id: "site_blog" });
    await db().insert(userRoles).values({
      id: newId("ura"),
      tenantId: tenantA,
      userId,
      roleId: "role_developer",
      siteId: "site_blog",
    });
    const g = await t.deps.loadGrants(userId, tenantA);
    expect(can(g, "deployments.create", "site_blog")).toBe(true);
    expect(can(g, "deployments.create", "site_shop")).toBe(false);
    expect(can(g, "deployments.create")).toBe(false);
    await db().delete(userRoles).where(eq(userRoles.siteId, "site_blog"));
  });

  test("grants in one tenant never leak into another", async () => {
    await db().insert(userRoles).values({
      id: newId("ura"),
      tenantId: tenantA,
      userId,
      roleId: "role_admin",
    });
    expect(can(await t.deps.loadGrants(userId, tenantA), "users.manage")).toBe(true);
    expect((await t.deps.loadGrants(userId, tenantB)).tenantWide.size).toBe(0);
    await db().delete(userRoles).where(eq(userRoles.roleId, "role_admin"));
  });

  test("another tenant's role assigned by a tampered row grants nothing", async () => {
    const foreign = await customRole(tenantB, ["firewall.manage"]);
    await db().insert(userRoles).values({
      id: newId("ura"),
      tenantId: tenantA,
      userId,
      roleId: foreign,
    });
    expect(can(await t.deps.loadGrants(userId, tenantA), "firewall.manage")).toBe(false);
  });

  test("the database refuses a role that would inherit from itself or another tenant's role", async () => {
    const a = await customRole(tenantA, []);
    const b = await customRole(tenantA, [], a);
    const cycle = await db().update(roles).set({ parentId: b }).where(eq(roles.id, a))
      .catch((e: unknown) => e);
    expect(String((cycle as { cause?: unknown }).cause ?? cycle)).toContain("inherit from itself");
    const foreign = await customRole(tenantB, []);
    const crossing = await db().update(roles).set({ parentId: foreign }).where(eq(roles.id, a))
      .catch((e: unknown) => e);
    expect(String((crossing as { cause?: unknown }).cause ?? crossing)).toContain("another tenant");
  });
});
