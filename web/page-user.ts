import type { Context } from "hono";
import type { AppEnv } from "../api/deps.ts";

/** What the page frame shows of the signed-in user (email, navigation, tenant switcher). */
export interface PageUser {
  email: string;
  isSuperuser?: boolean;
}

/** The signed-in user as the layout needs them, or undefined for anonymous visitors. */
export function pageUserOf(c: Context<AppEnv>): PageUser | undefined {
  return c.get("auth");
}
