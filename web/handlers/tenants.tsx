/** @jsxImportSource hono/jsx */
import { type Context, Hono } from "hono";
import { tenantVisibleTo } from "../../api/auth/active-tenant.ts";
import { requireAuth } from "../../api/auth/authenticate.ts";
import { setTenantCookie } from "../../api/auth/cookies.ts";
import { can } from "../../api/auth/grants.ts";
import { accessOf, grantsFor } from "../../api/auth/route-access.ts";
import type { AppDeps, AppEnv } from "../../api/deps.ts";
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
import {
  pagePermission,
  pageSuperuserOnly,
  redirectAfterPost,
  requireSignedIn,
  tenantNotFoundPage,
} from "../page-auth.tsx";
import { requirePageUser } from "../page-user.ts";
import { TenantsPage } from "../pages/tenants.tsx";

// What `?notice=` after a redirect may say; anything else in the query shows nothing.
const NOTICES: Record<string, string> = {
  created: "Tenant created. You are its owner.",
  "2fa-required": "Two-factor authentication is now required for the tenant's members.",
  "2fa-optional": "Two-factor authentication is no longer required for the tenant's members.",
};

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
  const permit = pagePermission(deps);

  routes.get("/tenants", requireSignedIn("/tenants"), async (c) => {
    const notice = c.req.query("notice") ?? "";
    const text = Object.hasOwn(NOTICES, notice) ? NOTICES[notice] : undefined;
    return await renderTenants(c, deps, { flash: text ? [{ kind: "success", text }] : [] });
  });

  routes.post("/tenants/switch", requireSignedIn("/"), async (c) => {
    const form = await readForm(c);
    const tenantId = form.tenantId ?? "";
    if (!(await tenantVisibleTo(deps, requireAuth(c), tenantId))) return tenantNotFoundPage(c);
    setTenantCookie(c, tenantId);
    return redirectAfterPost(c, safeNextPath(form.next) ?? "/");
  });

  routes.post("/tenants", pageSuperuserOnly("/tenants"), async (c) => {
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

  const updateTenant = permit("tenants.update", "/tenants", { tenantFrom: "path" });
  routes.post("/tenants/:id/two-factor", updateTenant, async (c) => {
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
