import { publicRoute } from "../auth/route-access.ts";
import { Hono } from "hono";
import type { AppDeps, AppEnv } from "../deps.ts";
import { statusReport } from "../services/status.ts";

/** `GET /api/v1/status`: the same facts as the status page, for scripts and monitoring. */
export function statusRoutes(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  routes.get("/status", publicRoute, async (c) => {
    const report = await statusReport(deps);
    return c.json(report, report.ready ? 200 : 503);
  });
  return routes;
}
