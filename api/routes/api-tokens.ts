import { Hono } from "hono";
import { requireAuth } from "../auth/authenticate.ts";
import { accessOf, permissionGuard, signedIn } from "../auth/route-access.ts";
import type { AppDeps, AppEnv } from "../deps.ts";
import { auditContextOf } from "../request-context.ts";
import { ApiTokenIdParam, CreateApiTokenInput } from "../services/api-token-inputs.ts";
import {
  createApiToken,
  listOwnApiTokens,
  listTenantApiTokens,
  revokeOwnApiToken,
  revokeTenantApiToken,
} from "../services/api-tokens.ts";
import { validate } from "../validate.ts";

/**
 * `/api/v1/tokens`: the caller's own personal API tokens (sessions only: a token never mints or
 * revokes tokens), and `/api/v1/tenant/tokens`: every member's, for `tokens.manage` holders.
 */
export function apiTokensRoutes(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  const permit = permissionGuard(deps);

  routes.post("/tokens", signedIn, validate("json", CreateApiTokenInput), async (c) => {
    const auth = requireAuth(c);
    const created = await createApiToken(
      deps,
      auditContextOf(c),
      auth,
      c.get("tenantId"),
      c.req.valid("json"),
    );
    return c.json(created, 201);
  });

  routes.get("/tokens", signedIn, async (c) => {
    return c.json({ tokens: await listOwnApiTokens(deps, requireAuth(c)) });
  });

  routes.delete("/tokens/:id", signedIn, validate("param", ApiTokenIdParam), async (c) => {
    const { id } = c.req.valid("param");
    await revokeOwnApiToken(deps, auditContextOf(c), requireAuth(c), id);
    return c.body(null, 204);
  });

  routes.get("/tenant/tokens", permit("tokens.manage"), async (c) => {
    return c.json({ tokens: await listTenantApiTokens(deps, accessOf(c)) });
  });

  routes.delete(
    "/tenant/tokens/:id",
    permit("tokens.manage"),
    validate("param", ApiTokenIdParam),
    async (c) => {
      const { id } = c.req.valid("param");
      await revokeTenantApiToken(deps, auditContextOf(c), accessOf(c), id);
      return c.body(null, 204);
    },
  );

  return routes;
}
