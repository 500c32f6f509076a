import { Hono } from "hono";
import type { AppDeps, AppEnv } from "../deps.ts";

/** Placeholder while the feature is built; replaced by its routes. */
export function membersRoutes(_deps: AppDeps): Hono<AppEnv> {
  return new Hono<AppEnv>();
}
