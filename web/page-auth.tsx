/** @jsxImportSource hono/jsx */
import type { Context, MiddlewareHandler } from "hono";
import {
  declareRouteAccess,
  permissionGuard,
  routeAccessOf,
  superuserOnly,
} from "../api/auth/route-access.ts";
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

// Where a refusal page leads: a page every signed-in user may open.
type BackLink = { href: string; label: string };
const TO_DASHBOARD: BackLink = { href: "/", label: "Back to the dashboard" };
const TO_TENANTS: BackLink = { href: "/tenants", label: "Back to your tenants" };

/** The 404 page for a tenant the caller may not see: exactly that of one that does not exist. */
export function tenantNotFoundPage(c: Context<AppEnv>) {
  return c.html(
    <MessagePage
      title="Tenant not found"
      message="There is no such tenant, or you are not a member of it."
      link={TO_TENANTS}
      user={pageUserOf(c)}
    />,
    404,
  );
}

function notAllowedPage(c: Context<AppEnv>, reason: string, back: BackLink) {
  return c.html(
    <MessagePage
      title="Not available to you"
      message={`${reason}. Ask an administrator of your organisation for access.`}
      link={back}
      user={pageUserOf(c)}
    />,
    403,
  );
}

/**
 * Runs one of the API's guards for a page, declaring the same access: an anonymous visitor goes
 * to the login page, and the guard's refusals become pages instead of JSON errors. A guard looks
 * nothing up but a tenant named in the path, so its `not_found` always means that tenant.
 */
function pageGuard(
  guard: MiddlewareHandler<AppEnv>,
  returnTo: string,
  back: BackLink,
): MiddlewareHandler<AppEnv> {
  const access = routeAccessOf(guard);
  if (!access) throw new Error("pageGuard needs a guard that declares its route access");
  const signIn = requireSignedIn(returnTo);
  return declareRouteAccess(async (c, next) => {
    if (!c.get("auth")) return await signIn(c, next);
    try {
      // The guard only checks: the page's handler runs below, outside this catch.
      await guard(c, async () => {});
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      if (err.code === "not_found") return tenantNotFoundPage(c);
      if (err.code === "forbidden") return notAllowedPage(c, err.message, back);
      throw err;
    }
    await next();
  }, access);
}

/**
 * The permission guard for pages: an anonymous visitor goes to the login page, a signed-in one
 * without the permission gets a 403 page that says which permission is missing. With
 * `tenantFrom: "path"` the `:id` of a `/tenants/:id/…` path is the tenant checked, and one the
 * user may not see gets the tenant 404 page. With `siteFrom`, as for the JSON API, a grant
 * scoped to the site `:id` names (`"path"`) or to any site (`"any"`, for lists) counts too.
 */
export function pagePermission(deps: AppDeps) {
  const permit = permissionGuard(deps);
  return (
    permission: Permission,
    returnTo: string,
    options: { tenantFrom?: "active" | "path"; siteFrom?: "path" | "any" } = {},
  ): MiddlewareHandler<AppEnv> => {
    // A tenant named in the path was picked from the tenants page, so the 403 page leads back there.
    const back = options.tenantFrom === "path" ? TO_TENANTS : TO_DASHBOARD;
    return pageGuard(permit(permission, options), returnTo, back);
  };
}

/**
 * For instance-wide actions on pages: the login page when signed out, a 403 page for anyone but
 * a superuser, leading to the tenants page, where the panel offers those actions.
 */
export function pageSuperuserOnly(returnTo: string): MiddlewareHandler<AppEnv> {
  return pageGuard(superuserOnly, returnTo, TO_TENANTS);
}
