/** @jsxImportSource hono/jsx */
import { Hono } from "hono";
import type { AppDeps, AppEnv } from "../../api/deps.ts";

/** Placeholder while the feature is built; replaced by its pages. */
export function rolesPages(_deps: AppDeps): Hono<AppEnv> {
  return new Hono<AppEnv>();
}
