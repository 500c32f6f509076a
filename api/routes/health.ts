import { publicRoute } from "../auth/route-access.ts";
import { Hono } from "hono";
import type { AppDeps, AppEnv } from "../deps.ts";

/** Liveness and readiness probes for load balancers, systemd and orchestrators. */
export function healthRoutes(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();

  // Liveness: the process answers. It never touches the database, so a slow database does not
  // get a healthy process restarted.
  routes.get("/healthz", publicRoute, (c) => c.json({ status: "ok" }));

  routes.get("/readyz", publicRoute, async (c) => {
    const report = await deps.readiness.check();
    return c.json(
      { status: report.ready ? "ready" : "unavailable", ...report },
      report.ready ? 200 : 503,
    );
  });

  return routes;
}
