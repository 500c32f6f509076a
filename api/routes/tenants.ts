import { Hono } from "hono";
import { requireAuth } from "../auth/authenticate.ts";
import { accessOf, permissionGuard, signedIn, superuserOnly } from "../auth/route-access.ts";
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
  const permit = permissionGuard(deps);
  routes.get("/tenants", signedIn, async (c) => {
    return c.json({ tenants: await listTenants(deps, requireAuth(c)) });
  });
  routes.post("/tenants", superuserOnly, validate("json", CreateTenantInput), async (c) => {
    const tenant = await createTenant(deps, auditContextOf(c), requireAuth(c), c.req.valid("json"));
    return c.json(tenant, 201);
  });
  routes.patch(
    "/tenants/:id",
    permit("tenants.update", { tenantFrom: "path" }),
    validate("json", UpdateTenantInput),
    async (c) => {
      const { require2fa } = c.req.valid("json");
      return c.json(
        await setTenantTwoFactorRequirement(deps, auditContextOf(c), accessOf(c), require2fa),
      );
    },
  );
  return routes;
}
