import { and, eq, notInArray, sql } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { permissions, rolePermissions, roles } from "../../db/schema.ts";
import { ALL_PERMISSIONS, BUILT_IN_ROLES, PERMISSIONS } from "../auth/permissions.ts";

// Replicas starting together take turns, so their upserts cannot deadlock on the same rows.
const CATALOGUE_LOCK_KEY = 7_242_180_603;

/**
 * Makes the database's permission catalogue and built-in roles match the code: new permissions
 * appear, retired ones go (with their grants), and built-in roles grant exactly what
 * permissions.ts says. Runs at every start, after migrations; idempotent.
 */
export async function syncRbacCatalogue(db: Db): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${CATALOGUE_LOCK_KEY})`);
    await tx
      .insert(permissions)
      .values(ALL_PERMISSIONS.map((name) => ({ name, description: PERMISSIONS[name] })))
      .onConflictDoUpdate({
        target: permissions.name,
        set: { description: sql`excluded.description` },
      });
    await tx.delete(permissions).where(notInArray(permissions.name, ALL_PERMISSIONS));
    for (const role of BUILT_IN_ROLES) {
      await tx
        .insert(roles)
        .values({ id: role.id, name: role.name, description: role.description, builtIn: true })
        .onConflictDoUpdate({
          target: roles.id,
          set: { name: role.name, description: role.description },
        });
      await tx.delete(rolePermissions).where(and(
        eq(rolePermissions.roleId, role.id),
        notInArray(rolePermissions.permission, [...role.permissions]),
      ));
      await tx
        .insert(rolePermissions)
        .values(role.permissions.map((permission) => ({ roleId: role.id, permission })))
        .onConflictDoNothing();
    }
    const builtInIds = BUILT_IN_ROLES.map((r) => r.id);
    // A built-in role dropped from the code keeps its row only while someone still holds it.
    await tx.delete(roles).where(and(
      eq(roles.builtIn, true),
      notInArray(roles.id, builtInIds),
      sql`not exists (select 1 from user_roles where user_roles.role_id = ${roles.id})`,
      sql`not exists (select 1 from roles child where child.parent_id = ${roles.id})`,
    ));
  });
}
