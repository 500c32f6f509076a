import { afterAll, beforeAll, expect, test } from "bun:test";
import { asc } from "drizzle-orm";
import { permissions, rolePermissions, roles } from "../../db/schema.ts";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { ALL_PERMISSIONS, BUILT_IN_ROLES } from "../auth/permissions.ts";
import { syncRbacCatalogue } from "./rbac-catalogue.ts";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

async function grantsByRole(): Promise<Record<string, string[]>> {
  const rows = await t.deps.database.db.select().from(rolePermissions)
    .orderBy(asc(rolePermissions.roleId), asc(rolePermissions.permission));
  const out: Record<string, string[]> = {};
  for (const row of rows) (out[row.roleId] ??= []).push(row.permission);
  return out;
}

function expectedBuiltInGrants(): Record<string, string[]> {
  return Object.fromEntries(BUILT_IN_ROLES.map((r) => [r.id, [...r.permissions].sort()]));
}

test("the database holds exactly the code's catalogue and built-in roles", async () => {
  const names = (await t.deps.database.db.select().from(permissions)).map((p) => p.name);
  expect(names.sort()).toEqual([...ALL_PERMISSIONS].sort());
  const builtIn = await t.deps.database.db.select().from(roles);
  expect(builtIn.map((r) => r.id).sort()).toEqual(BUILT_IN_ROLES.map((r) => r.id).sort());
  expect(builtIn.every((r) => r.builtIn && r.tenantId === null)).toBe(true);
  expect(await grantsByRole()).toEqual(expectedBuiltInGrants());
});

test("a start-up sync undoes tampering with built-in roles and drops retired permissions", async () => {
  for (
    const statement of [
      "insert into permissions (name, description) values ('legacy.thing', 'retired')",
      `insert into role_permissions (role_id, permission) values
         ('role_viewer', 'users.manage'), ('role_viewer', 'legacy.thing')`,
      "delete from role_permissions where role_id = 'role_auditor' and permission = 'audit.export'",
    ]
  ) await t.database.rawSql(statement);
  await syncRbacCatalogue(t.deps.database.db);
  await syncRbacCatalogue(t.deps.database.db);
  const names = (await t.deps.database.db.select().from(permissions)).map((p) => p.name);
  expect(names).not.toContain("legacy.thing");
  expect(await grantsByRole()).toEqual(expectedBuiltInGrants());
});
