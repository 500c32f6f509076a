/** @jsxImportSource hono/jsx */
import { Hono } from "hono";
import type { AppDeps, AppEnv } from "../api/deps.ts";

/** The htmx web panel: pages and static assets. */
export function webRoutes(_deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  routes.get("/status", (c) => c.html(<p>status</p>));
  return routes;
}
