import type { Hono } from "hono";
import { type RouteAccess, routeAccessOf } from "../../api/auth/route-access.ts";
import type { AppEnv } from "../../api/deps.ts";

/** One registered method and path, with the access its guards declare. */
export interface RouteEntry {
  method: string;
  path: string;
  /** Every declaration on the route itself or on a `use` prefix that covers it. */
  declared: RouteAccess[];
}

function covers(pattern: string, path: string): boolean {
  if (pattern === "*" || pattern === "/*") return true;
  if (pattern.endsWith("/*")) {
    const prefix = pattern.slice(0, -2);
    return path === prefix || path.startsWith(`${prefix}/`);
  }
  return pattern === path;
}

/** The app's routes (one entry per method and path), with what each declares about access. */
export function routeTable(app: Hono<AppEnv>): RouteEntry[] {
  const byRoute = new Map<string, RouteEntry>();
  for (const r of app.routes) {
    if (r.method === "ALL") continue;
    const key = `${r.method} ${r.path}`;
    const entry = byRoute.get(key) ?? { method: r.method, path: r.path, declared: [] };
    const access = routeAccessOf(r.handler);
    if (access) entry.declared.push(access);
    byRoute.set(key, entry);
  }
  for (const r of app.routes) {
    if (r.method !== "ALL") continue;
    const access = routeAccessOf(r.handler);
    if (!access) continue;
    for (const entry of byRoute.values()) {
      if (covers(r.path, entry.path)) entry.declared.push(access);
    }
  }
  return [...byRoute.values()];
}

/** A path with every `:param` filled in, for requests that only need to reach the guard. */
export function concretePath(path: string, value = "x_1"): string {
  return path.replace(/:[A-Za-z]+/g, value).replace(/\*$/, "x");
}
