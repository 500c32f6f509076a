import { Hono } from "hono";
import { requireAuth } from "../auth/authenticate.ts";
import { publicRoute, superuserOnly } from "../auth/route-access.ts";
import type { AppDeps, AppEnv } from "../deps.ts";
import { auditContextOf } from "../request-context.ts";
import { completePasswordReset, issuePasswordReset } from "../services/password-reset.ts";
import { PasswordResetInput, UserIdParam } from "../services/user-admin-inputs.ts";
import { disableUser, enableUser, listUsers } from "../services/user-admin.ts";
import { validate } from "../validate.ts";

/**
 * `/api/v1/users/*` (admin actions on accounts) and the public `/api/v1/auth/password-reset`
 * that spends an admin's reset link. Mounted at `/api/v1`.
 */
export function usersRoutes(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();

  routes.get(
    "/users",
    superuserOnly,
    async (c) => c.json({ users: await listUsers(deps, requireAuth(c)) }),
  );

  routes.post("/users/:id/disable", superuserOnly, validate("param", UserIdParam), async (c) => {
    const { id } = c.req.valid("param");
    return c.json(await disableUser(deps, auditContextOf(c), requireAuth(c), id));
  });

  routes.post("/users/:id/enable", superuserOnly, validate("param", UserIdParam), async (c) => {
    const { id } = c.req.valid("param");
    return c.json(await enableUser(deps, auditContextOf(c), requireAuth(c), id));
  });

  routes.post(
    "/users/:id/password-reset",
    superuserOnly,
    validate("param", UserIdParam),
    async (c) => {
      const { id } = c.req.valid("param");
      const issued = await issuePasswordReset(deps, auditContextOf(c), requireAuth(c), id);
      return c.json(issued, 201);
    },
  );

  routes.post(
    "/auth/password-reset",
    publicRoute,
    validate("json", PasswordResetInput),
    async (c) => {
      await completePasswordReset(deps, auditContextOf(c), c.req.valid("json"));
      return c.body(null, 204);
    },
  );

  return routes;
}
