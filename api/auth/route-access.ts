import type { Context, MiddlewareHandler } from "hono";
import type { AppDeps, AppEnv, RequestAuth } from "../deps.ts";
import { AppError } from "../errors.ts";
import { auditContextOf } from "../request-context.ts";
import { recordAudit } from "../services/audit.ts";
import { requireAuth } from "./authenticate.ts";
import { can, canOnSomeSite, type Grants, restrictGrants } from "./grants.ts";
import { ALL_PERMISSIONS, type Permission, SENSITIVE_PERMISSIONS } from "./permissions.ts";
import { tenantVisibleTo } from "./active-tenant.ts";

/** Who may call a route: everyone, any signed-in user (for their own things), superusers only,
 * or holders of one permission in the tenant the request acts in. */
export type RouteAccess =
  | { kind: "public" }
  | { kind: "signed_in" }
  | { kind: "superuser" }
  | {
    kind: "permission";
    permission: Permission;
    tenantFrom: "active" | "path";
    /** Where a site-scoped grant counts: the site `:id` names, or any site (lists). */
    siteFrom?: "path" | "any";
  };

// Every guard is registered here, so a test can find the declaration of every route.
const declarations = new WeakMap<object, RouteAccess>();

export function declareRouteAccess(handler: MiddlewareHandler<AppEnv>, access: RouteAccess) {
  declarations.set(handler, access);
  return handler;
}

/** The access a guard declares, or undefined for any other handler. */
export function routeAccessOf(handler: unknown): RouteAccess | undefined {
  return typeof handler === "function" ? declarations.get(handler) : undefined;
}

/** Marks a route as deliberately open to anonymous callers. */
export const publicRoute: MiddlewareHandler<AppEnv> = declareRouteAccess(
  async (_c, next) => await next(),
  { kind: "public" },
);

/**
 * For routes about the caller's own account, placed first so an anonymous caller gets 401
 * before any input validation runs. API tokens are refused: they act in a tenant, and must never
 * change the password, 2FA or sessions of the person who made them.
 */
export const signedIn: MiddlewareHandler<AppEnv> = declareRouteAccess(async (c, next) => {
  const auth = requireAuth(c);
  if (auth.via === "token") {
    throw new AppError("forbidden", "API tokens cannot manage accounts: sign in to do this");
  }
  await next();
}, { kind: "signed_in" });

/** For instance-wide administration (all tenants, all accounts, audit retention). */
export const superuserOnly: MiddlewareHandler<AppEnv> = declareRouteAccess(async (c, next) => {
  if (!requireAuth(c).isSuperuser) {
    throw new AppError("forbidden", "This needs a superuser account");
  }
  await next();
}, { kind: "superuser" });

/** What a permission-checked request may do, settled by the route guard. */
export interface Access {
  auth: RequestAuth;
  tenantId: string;
  grants: Grants;
}

/** The access the route guard settled; services take this and check their permission again. */
export function accessOf(c: Context<AppEnv>): Access {
  const access = c.get("access");
  if (!access) throw new Error(`route ${c.req.method} ${c.req.path} has no permission guard`);
  return access;
}

/** Refuses with 403 unless `access` allows `permission` (for `siteId`, when given). */
export function requirePermission(access: Access, permission: Permission, siteId?: string): void {
  if (!can(access.grants, permission, siteId)) {
    throw new AppError("forbidden", `You do not have the "${permission}" permission here`);
  }
}

/** The caller's grants in `tenantId`: their roles' union, narrowed to an API token's list. */
export async function grantsFor(
  deps: AppDeps,
  auth: RequestAuth,
  tenantId: string,
): Promise<Grants> {
  if (auth.via === "token" && auth.token) {
    const owner: Grants = auth.token.ownerIsSuperuser
      ? { superuser: true, tenantWide: new Set(ALL_PERMISSIONS), bySite: new Map() }
      : await deps.loadGrants(auth.userId, tenantId, auth.authEpoch);
    return restrictGrants(owner, auth.token.permissions);
  }
  if (auth.isSuperuser) {
    return { superuser: true, tenantWide: new Set(ALL_PERMISSIONS), bySite: new Map() };
  }
  return await deps.loadGrants(auth.userId, tenantId, auth.authEpoch);
}

/**
 * Builds the permission guard: 401 for anonymous callers, then the tenant the request acts in
 * (the active one, or `:id` of a `/tenants/:id/…` path, where a tenant the caller cannot see is a
 * 404), then 403 without the permission, tenant-wide or, with `siteFrom`, on the site `:id` names
 * (or on any site, for lists the service then narrows). Denials are logged, and audited for sensitive
 * permissions. The check runs before any lookup, so a denial says nothing about whether the
 * object asked for exists.
 */
export function permissionGuard(deps: AppDeps) {
  return (
    permission: Permission,
    options: { tenantFrom?: "active" | "path"; siteFrom?: "path" | "any" } = {},
  ): MiddlewareHandler<AppEnv> => {
    const tenantFrom = options.tenantFrom ?? "active";
    const { siteFrom } = options;
    return declareRouteAccess(async (c, next) => {
      const auth = requireAuth(c);
      let tenantId = c.get("tenantId");
      if (tenantFrom === "path") {
        const requested = c.req.param("id") ?? "";
        if (!(await tenantVisibleTo(deps, auth, requested))) {
          throw new AppError("not_found", "Tenant not found");
        }
        tenantId = requested;
        c.set("tenantId", tenantId);
      }
      if (!tenantId) {
        throw new AppError(
          "forbidden",
          `You do not have the "${permission}" permission: you are not a member of any tenant`,
        );
      }
      const grants = await grantsFor(deps, auth, tenantId);
      const allowed = can(grants, permission) ||
        (siteFrom === "path" && can(grants, permission, c.req.param("id"))) ||
        (siteFrom === "any" && canOnSomeSite(grants, permission));
      if (!allowed) {
        await reportDenial(deps, c, permission);
        throw new AppError("forbidden", `You do not have the "${permission}" permission here`);
      }
      c.set("access", { auth, tenantId, grants });
      await next();
    }, { kind: "permission", permission, tenantFrom, siteFrom });
  };
}

async function reportDenial(deps: AppDeps, c: Context<AppEnv>, permission: Permission) {
  const auth = c.get("auth");
  deps.log.warn(
    { userId: auth?.userId, tokenId: auth?.token?.id, tenantId: c.get("tenantId"), permission },
    "permission denied",
  );
  if (!SENSITIVE_PERMISSIONS.has(permission)) return;
  await deps.database.db.transaction(async (tx) => {
    await recordAudit(tx, auditContextOf(c), {
      action: permission,
      outcome: "denied",
      details: { method: c.req.method, route: c.req.routePath },
    });
  });
}
