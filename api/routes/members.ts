import { Hono } from "hono";
import { accessOf, permissionGuard } from "../auth/route-access.ts";
import type { AppDeps, AppEnv } from "../deps.ts";
import { auditContextOf } from "../request-context.ts";
import { listMembers } from "../services/member-list.ts";
import { removeMember, setMemberRoles } from "../services/members.ts";
import { SetMemberRolesInput } from "../services/role-inputs.ts";
import { validate } from "../validate.ts";

/** `/api/v1/members`: who belongs to the active tenant, their roles, and removing them. */
export function membersRoutes(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  const permit = permissionGuard(deps);

  routes.get("/members", permit("users.read"), async (c) => {
    return c.json({ members: await listMembers(deps, accessOf(c)) });
  });

  routes.put(
    "/members/:userId/roles",
    permit("users.manage"),
    validate("json", SetMemberRolesInput),
    async (c) => {
      const input = c.req.valid("json");
      const userId = c.req.param("userId");
      return c.json(await setMemberRoles(deps, auditContextOf(c), accessOf(c), userId, input));
    },
  );

  routes.delete("/members/:userId", permit("users.manage"), async (c) => {
    await removeMember(deps, auditContextOf(c), accessOf(c), c.req.param("userId"));
    return c.body(null, 204);
  });

  return routes;
}
