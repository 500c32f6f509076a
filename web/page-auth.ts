import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../api/deps.ts";
import { loginUrl } from "./next-path.ts";

/** Whether htmx sent the request (it then wants a fragment or an `HX-Redirect`, not a page). */
export function isHtmx(c: Context<AppEnv>): boolean {
  return c.req.header("hx-request") === "true";
}

/**
 * Sends a browser somewhere after a form post: a 303 for a plain form (so reloading does not post
 * again), an `HX-Redirect` for htmx, which would otherwise follow the redirect itself and swap the
 * whole page into a fragment's place.
 */
export function redirectAfterPost(c: Context<AppEnv>, location: string): Response {
  if (isHtmx(c)) {
    c.header("HX-Redirect", location);
    return c.body(null, 200);
  }
  return c.redirect(location, 303);
}

/**
 * Guards pages that need a signed-in user. Without one, a page load goes to the login page with
 * `next` pointing back to it (where session.js may renew an expired access cookie); a post cannot
 * be replayed after signing in, so it returns to `returnTo`, the page the form was on.
 */
export function requireSignedIn(returnTo: string): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (c.get("auth")) return await next();
    if (c.req.method === "GET" || c.req.method === "HEAD") {
      const url = new URL(c.req.url);
      return c.redirect(loginUrl(`${url.pathname}${url.search}`), 302);
    }
    return redirectAfterPost(c, loginUrl(returnTo));
  };
}
