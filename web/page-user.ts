import type { Context, MiddlewareHandler } from "hono";
import { requireAuth } from "../api/auth/authenticate.ts";
import { ALL_PERMISSIONS, type Permission } from "../api/auth/permissions.ts";
import { grantsFor } from "../api/auth/route-access.ts";
import type { AppDeps, AppEnv, RequestAuth } from "../api/deps.ts";
import { listTenants } from "../api/services/tenants.ts";

/** A tenant as the switcher lists it. */
export interface TenantChoice {
  id: string;
  name: string;
}

/** What the page frame shows of the signed-in user (email, navigation, tenant switcher). */
export interface PageUser {
  email: string;
  isSuperuser?: boolean;
  /** Tenant-wide grants in the active tenant (all of them for a superuser): what nav offers. */
  permissions: ReadonlySet<Permission>;
  /** Grants held on at least one site only: the Sites page lists those sites. */
  sitePermissions?: ReadonlySet<Permission>;
  /** The tenants the user may act in (a superuser: all), for the switcher. */
  tenants: TenantChoice[];
  activeTenantId: string | undefined;
  /** This page's path for the switcher to return to; unset where reloading would not work. */
  returnTo?: string;
}

// Served by other middleware or the JSON API: neither renders the page frame.
const NOT_PAGES = /^\/(api|static)\//;

function minimalPageUser(auth: RequestAuth, tenantId: string | undefined): PageUser {
  return {
    email: auth.email,
    isSuperuser: auth.isSuperuser,
    permissions: new Set(auth.isSuperuser ? ALL_PERMISSIONS : []),
    tenants: [],
    activeTenantId: tenantId,
  };
}

/**
 * Works out, once per page request of a signed-in user, what the frame needs: the grants in the
 * active tenant and the tenants to switch between. Two queries, so the JSON API skips it.
 */
export function loadPageUser(deps: AppDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const auth = c.get("auth");
    if (auth && !NOT_PAGES.test(c.req.path)) {
      const tenantId = c.get("tenantId");
      const [grants, tenants] = await Promise.all([
        tenantId ? grantsFor(deps, auth, tenantId) : undefined,
        listTenants(deps, auth),
      ]);
      const url = new URL(c.req.url);
      const minimal = minimalPageUser(auth, tenantId);
      c.set("pageUser", {
        ...minimal,
        permissions: grants?.tenantWide ?? minimal.permissions,
        sitePermissions: new Set([...(grants?.bySite.values() ?? [])].flatMap((held) => [...held])),
        tenants: tenants.map(({ id, name }) => ({ id, name })),
        // After a post the address is the form's endpoint, which a GET would not find.
        returnTo: c.req.method === "GET" ? `${url.pathname}${url.search}` : undefined,
      });
    }
    await next();
  };
}

/** The signed-in user as the layout needs them, or undefined for anonymous visitors. */
export function pageUserOf(c: Context<AppEnv>): PageUser | undefined {
  const auth = c.get("auth");
  if (!auth) return undefined;
  return c.get("pageUser") ?? minimalPageUser(auth, c.get("tenantId"));
}

/** The page user on a route a signed-in guard protects (401 if that guard is missing). */
export function requirePageUser(c: Context<AppEnv>): PageUser {
  const auth = requireAuth(c);
  return c.get("pageUser") ?? minimalPageUser(auth, c.get("tenantId"));
}
