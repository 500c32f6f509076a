import { Hono } from "hono";
import { requireAuth, signedIn } from "../auth/authenticate.ts";
import type { AppDeps, AppEnv } from "../deps.ts";
import { auditContextOf } from "../request-context.ts";
import {
  createTenant,
  CreateTenantInput,
  listTenants,
  setTenantTwoFactorRequirement,
  UpdateTenantInput,
} from "../services/tenants.ts";
import { validate } from "../validate.ts";

/** `/api/v1/tenants`: the caller's organisations and their security settings. */
export function tenantRoutes(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  routes.get("/tenants", async (c) => c.json({ tenants: await listTenants(deps, requireAuth(c)) }));
  routes.post("/tenants", signedIn, validate("json", CreateTenantInput), async (c) => {
    const tenant = await createTenant(deps, auditContextOf(c), requireAuth(c), c.req.valid("json"));
    return c.json(tenant, 201);
  });
  routes.patch("/tenants/:id", signedIn, validate("json", UpdateTenantInput), async (c) => {
    const { require2fa } = c.req.valid("json");
    const tenant = await setTenantTwoFactorRequirement(
      deps,
      auditContextOf(c),
      requireAuth(c),
      c.req.param("id"),
      require2fa,
    );
    return c.json(tenant);
  });
  return routes;
}
