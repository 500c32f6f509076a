/** @jsxImportSource hono/jsx */
import type { Context, MiddlewareHandler } from "hono";
import { declareRouteAccess, permissionGuard } from "../api/auth/route-access.ts";
import type { Permission } from "../api/auth/permissions.ts";
import type { AppDeps, AppEnv } from "../api/deps.ts";
import { AppError } from "../api/errors.ts";
import { pageUserOf } from "./page-user.ts";
import { MessagePage } from "./pages/message.tsx";
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
  return declareRouteAccess(async (c, next) => {
    if (c.get("auth")) return await next();
    if (c.req.method === "GET" || c.req.method === "HEAD") {
      const url = new URL(c.req.url);
      return c.redirect(loginUrl(`${url.pathname}${url.search}`), 302);
    }
    return redirectAfterPost(c, loginUrl(returnTo));
  }, { kind: "signed_in" });
}

/**
 * The permission guard for pages: an anonymous visitor goes to the login page, a signed-in one
 * without the permission gets a 403 page that says which permission is missing.
 */
export function pagePermission(deps: AppDeps) {
  const permit = permissionGuard(deps);
  return (permission: Permission, returnTo: string): MiddlewareHandler<AppEnv> => {
    const signIn = requireSignedIn(returnTo);
    const guard = permit(permission);
    return declareRouteAccess(async (c, next) => {
      if (!c.get("auth")) return await signIn(c, next);
      try {
        await guard(c, async () => {});
      } catch (err) {
        if (!(err instanceof AppError) || !["forbidden", "not_found"].includes(err.code)) throw err;
        return c.html(
          <MessagePage
            title="Not available to you"
            message={`${err.message}. Ask an administrator of your organisation for access.`}
            link={{ href: "/", label: "Back to the dashboard" }}
            user={pageUserOf(c)}
          />,
          403,
        );
      }
      await next();
    }, { kind: "permission", permission, tenantFrom: "active" });
  };
}
