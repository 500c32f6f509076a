/** @jsxImportSource hono/jsx */
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { tenantVisibleTo } from "../../api/auth/active-tenant.ts";
import { requireAuth } from "../../api/auth/authenticate.ts";
import { setTenantCookie } from "../../api/auth/cookies.ts";
import { can } from "../../api/auth/grants.ts";
import type { Permission } from "../../api/auth/permissions.ts";
import {
  accessOf,
  declareRouteAccess,
  grantsFor,
  permissionGuard,
} from "../../api/auth/route-access.ts";
import type { AppDeps, AppEnv } from "../../api/deps.ts";
import { AppError } from "../../api/errors.ts";
import { auditContextOf } from "../../api/request-context.ts";
import {
  createTenant,
  CreateTenantInput,
  listTenants,
  setTenantTwoFactorRequirement,
  UpdateTenantInput,
} from "../../api/services/tenants.ts";
import type { FieldProblems, FlashMessage } from "../components.tsx";
import { fieldErrorsOf, parseForm, readForm } from "../forms.ts";
import { safeNextPath } from "../next-path.ts";
import { redirectAfterPost, requireSignedIn } from "../page-auth.tsx";
import { pageUserOf, requirePageUser } from "../page-user.ts";
import { MessagePage } from "../pages/message.tsx";
import { TenantsPage } from "../pages/tenants.tsx";

// What `?notice=` after a redirect may say; anything else in the query shows nothing.
const NOTICES: Record<string, string> = {
  created: "Tenant created. You are its owner.",
  "2fa-required": "Two-factor authentication is now required for the tenant's members.",
  "2fa-optional": "Two-factor authentication is no longer required for the tenant's members.",
};

/** A tenant the caller may not see looks exactly like one that does not exist. */
function tenantNotFound(c: Context<AppEnv>) {
  return c.html(
    <MessagePage
      title="Tenant not found"
      message="There is no such tenant, or you are not a member of it."
      link={{ href: "/tenants", label: "Back to your tenants" }}
      user={pageUserOf(c)}
    />,
    404,
  );
}

function notAllowed(c: Context<AppEnv>, reason: string) {
  return c.html(
    <MessagePage
      title="Not available to you"
      message={`${reason}. Ask an administrator of your organisation for access.`}
      link={{ href: "/tenants", label: "Back to your tenants" }}
      user={pageUserOf(c)}
    />,
    403,
  );
}

/** For instance-wide actions on pages: the login page when signed out, a 403 page for members. */
function superuserPage(returnTo: string): MiddlewareHandler<AppEnv> {
  const signIn = requireSignedIn(returnTo);
  return declareRouteAccess(async (c, next) => {
    const auth = c.get("auth");
    if (!auth) return await signIn(c, next);
    if (!auth.isSuperuser) return notAllowed(c, "This needs a superuser account");
    await next();
  }, { kind: "superuser" });
}

/** The permission guard for `/tenants/:id/…` pages: 404 page for unseen tenants, 403 page without. */
function tenantPermissionPage(deps: AppDeps) {
  const permit = permissionGuard(deps);
  return (permission: Permission, returnTo: string): MiddlewareHandler<AppEnv> => {
    const signIn = requireSignedIn(returnTo);
    const guard = permit(permission, { tenantFrom: "path" });
    return declareRouteAccess(async (c, next) => {
      if (!c.get("auth")) return await signIn(c, next);
      try {
        await guard(c, async () => {});
      } catch (err) {
        if (err instanceof AppError && err.code === "not_found") return tenantNotFound(c);
        if (err instanceof AppError && err.code === "forbidden") return notAllowed(c, err.message);
        throw err;
      }
      await next();
    }, { kind: "permission", permission, tenantFrom: "path" });
  };
}

/** The tenants page, with what the user may do in each tenant. */
async function renderTenants(
  c: Context<AppEnv>,
  deps: AppDeps,
  options: { createErrors?: FieldProblems; createName?: string; flash?: FlashMessage[] } = {},
  status: 200 | 400 = 200,
) {
  const auth = requireAuth(c);
  const user = requirePageUser(c);
  const tenants = await listTenants(deps, auth);
  const rows = await Promise.all(tenants.map(async (tenant) => ({
    ...tenant,
    active: tenant.id === user.activeTenantId,
    canUpdate: can(await grantsFor(deps, auth, tenant.id), "tenants.update"),
  })));
  return c.html(<TenantsPage user={user} tenants={rows} {...options} />, status);
}

/**
 * `/tenants`: the user's organisations, switching the one the panel acts in (a cookie, since a
 * browser cannot send `X-Caddis-Tenant`), creating one (superusers) and its 2FA requirement.
 */
export function tenantsPages(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  const permitTenant = tenantPermissionPage(deps);

  routes.get("/tenants", requireSignedIn("/tenants"), async (c) => {
    const notice = c.req.query("notice") ?? "";
    const text = Object.hasOwn(NOTICES, notice) ? NOTICES[notice] : undefined;
    return await renderTenants(c, deps, { flash: text ? [{ kind: "success", text }] : [] });
  });

  routes.post("/tenants/switch", requireSignedIn("/"), async (c) => {
    const form = await readForm(c);
    const tenantId = form.tenantId ?? "";
    if (!(await tenantVisibleTo(deps, requireAuth(c), tenantId))) return tenantNotFound(c);
    setTenantCookie(c, tenantId);
    return redirectAfterPost(c, safeNextPath(form.next) ?? "/");
  });

  routes.post("/tenants", superuserPage("/tenants"), async (c) => {
    const form = await readForm(c);
    const parsed = parseForm(CreateTenantInput, form, ["name"]);
    if (!parsed.ok) {
      return await renderTenants(
        c,
        deps,
        { createErrors: parsed.fields, createName: form.name },
        400,
      );
    }
    try {
      await createTenant(deps, auditContextOf(c), requireAuth(c), parsed.data);
    } catch (err) {
      const fields = fieldErrorsOf(err);
      if (!fields) throw err;
      return await renderTenants(c, deps, { createErrors: fields, createName: form.name }, 400);
    }
    return redirectAfterPost(c, "/tenants?notice=created");
  });

  routes.post("/tenants/:id/two-factor", permitTenant("tenants.update", "/tenants"), async (c) => {
    const raw = (await readForm(c)).require2fa;
    // A form sends text; the shared schema wants the boolean the JSON API sends.
    const parsed = UpdateTenantInput.safeParse({
      require2fa: raw === "true" ? true : raw === "false" ? false : raw,
    });
    if (!parsed.success) {
      const text = "Two-factor requirement must be on or off";
      return await renderTenants(c, deps, { flash: [{ kind: "error", text }] }, 400);
    }
    const { require2fa } = parsed.data;
    const access = accessOf(c);
    await setTenantTwoFactorRequirement(deps, auditContextOf(c), access, require2fa);
    return redirectAfterPost(c, `/tenants?notice=${require2fa ? "2fa-required" : "2fa-optional"}`);
  });

  return routes;
}
