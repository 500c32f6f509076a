import { Hono } from "hono";
import { accessOf, permissionGuard } from "../auth/route-access.ts";
import type { AppDeps, AppEnv } from "../deps.ts";
import { auditContextOf } from "../request-context.ts";
import {
  CreateSiteInput,
  DeleteSiteQuery,
  SiteIdParam,
  UpdateSiteInput,
} from "../services/site-inputs.ts";
import {
  createSite,
  deleteSite,
  getSite,
  listSites,
  restartSite,
  updateSite,
} from "../services/sites.ts";
import { validate } from "../validate.ts";

/** `/api/v1/sites`: the active tenant's sites; site-scoped roles count for the site they name. */
export function sitesRoutes(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  const permit = permissionGuard(deps);

  routes.post("/sites", permit("sites.create"), validate("json", CreateSiteInput), async (c) => {
    const site = await createSite(deps, accessOf(c), auditContextOf(c), c.req.valid("json"));
    return c.json({ site }, 201);
  });

  routes.get("/sites", permit("sites.read", { siteFrom: "any" }), async (c) => {
    return c.json({ sites: await listSites(deps, accessOf(c)) });
  });

  routes.get(
    "/sites/:id",
    permit("sites.read", { siteFrom: "path" }),
    validate("param", SiteIdParam),
    async (c) => {
      return c.json({ site: await getSite(deps, accessOf(c), c.req.valid("param").id) });
    },
  );

  routes.patch(
    "/sites/:id",
    permit("sites.update", { siteFrom: "path" }),
    validate("param", SiteIdParam),
    validate("json", UpdateSiteInput),
    async (c) => {
      const { id } = c.req.valid("param");
      const site = await updateSite(deps, accessOf(c), auditContextOf(c), id, c.req.valid("json"));
      return c.json({ site });
    },
  );

  routes.delete(
    "/sites/:id",
    permit("sites.delete", { siteFrom: "path" }),
    validate("param", SiteIdParam),
    validate("query", DeleteSiteQuery),
    async (c) => {
      const { id } = c.req.valid("param");
      const command = await deleteSite(deps, accessOf(c), auditContextOf(c), id, {
        purge: c.req.valid("query").purge,
      });
      return c.json({ command }, 202);
    },
  );

  routes.post(
    "/sites/:id/restart",
    permit("sites.update", { siteFrom: "path" }),
    validate("param", SiteIdParam),
    async (c) => {
      const command = await restartSite(
        deps,
        accessOf(c),
        auditContextOf(c),
        c.req.valid("param").id,
      );
      return c.json({ command }, 202);
    },
  );

  return routes;
}
