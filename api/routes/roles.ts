import { Hono } from "hono";
import { accessOf, permissionGuard } from "../auth/route-access.ts";
import type { AppDeps, AppEnv } from "../deps.ts";
import { auditContextOf } from "../request-context.ts";
import { CreateRoleInput, UpdateRoleInput } from "../services/role-inputs.ts";
import { createRole, deleteRole, updateRole } from "../services/role-changes.ts";
import { listPermissions, listRoles } from "../services/roles.ts";
import { validate } from "../validate.ts";

/** `/api/v1/permissions` and `/api/v1/roles`: the catalogue, and the active tenant's roles. */
export function rolesRoutes(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  const permit = permissionGuard(deps);

  routes.get("/permissions", permit("roles.read"), (c) => {
    return c.json({ permissions: listPermissions(accessOf(c)) });
  });

  routes.get("/roles", permit("roles.read"), async (c) => {
    return c.json({ roles: await listRoles(deps, accessOf(c)) });
  });

  routes.post("/roles", permit("roles.manage"), validate("json", CreateRoleInput), async (c) => {
    const role = await createRole(deps, auditContextOf(c), accessOf(c), c.req.valid("json"));
    return c.json(role, 201);
  });

  routes.patch(
    "/roles/:id",
    permit("roles.manage"),
    validate("json", UpdateRoleInput),
    async (c) => {
      const input = c.req.valid("json");
      return c.json(
        await updateRole(deps, auditContextOf(c), accessOf(c), c.req.param("id"), input),
      );
    },
  );

  routes.delete("/roles/:id", permit("roles.manage"), async (c) => {
    await deleteRole(deps, auditContextOf(c), accessOf(c), c.req.param("id"));
    return c.body(null, 204);
  });

  return routes;
}
