/** @jsxImportSource hono/jsx */
import { type Context, Hono } from "hono";
import { requireAuth } from "../../api/auth/authenticate.ts";
import { can } from "../../api/auth/grants.ts";
import { ALL_PERMISSIONS, type Permission } from "../../api/auth/permissions.ts";
import { grantsFor } from "../../api/auth/route-access.ts";
import type { AppDeps, AppEnv, RequestAuth } from "../../api/deps.ts";
import { AppError } from "../../api/errors.ts";
import { auditContextOf } from "../../api/request-context.ts";
import { CreateApiTokenInput } from "../../api/services/api-token-inputs.ts";
import {
  createApiToken,
  listOwnApiTokens,
  revokeOwnApiToken,
} from "../../api/services/api-tokens.ts";
import { listTenants } from "../../api/services/tenants.ts";
import type { FlashMessage } from "../components.tsx";
import type { FieldErrors } from "../forms.ts";
import { redirectAfterPost } from "../page-auth.tsx";
import { requirePageUser } from "../page-user.ts";
import {
  AccountTokensPage,
  EMPTY_TOKEN_FORM,
  type TokenFormValues,
} from "../pages/account-tokens.tsx";

// Confirmations a redirect back to `/account/tokens?notice=…` shows; only these keys exist.
const NOTICES: Record<string, FlashMessage> = {
  revoked: { kind: "success", text: "Token revoked; it stops working on its next request" },
  missing: { kind: "info", text: "That token was not found; it may already be gone" },
};

/** What to render besides the list: kept input, problems, and a just-created secret. */
interface PageState {
  values?: TokenFormValues;
  errors?: FieldErrors;
  flash?: FlashMessage[];
  created?: { name: string; secret: string };
  status?: 200 | 400;
}

async function renderTokens(
  c: Context<AppEnv>,
  deps: AppDeps,
  auth: RequestAuth,
  state: PageState,
) {
  const tenantId = c.get("tenantId");
  const [tokens, tenants, grants] = await Promise.all([
    listOwnApiTokens(deps, auth),
    listTenants(deps, auth),
    tenantId ? grantsFor(deps, auth, tenantId) : undefined,
  ]);
  const tenantNames = new Map(tenants.map((tenant) => [tenant.id, tenant.name]));
  const grantable: Permission[] = grants ? ALL_PERMISSIONS.filter((p) => can(grants, p)) : [];
  return c.html(
    <AccountTokensPage
      user={requirePageUser(c)}
      tokens={tokens}
      tenantNames={tenantNames}
      tenantName={tenantId ? tenantNames.get(tenantId) : undefined}
      grantable={grantable}
      values={state.values ?? EMPTY_TOKEN_FORM}
      errors={state.errors}
      flash={state.flash}
      created={state.created}
    />,
    state.status ?? 200,
  );
}

// Checkboxes arrive as repeated fields, so the body is read with every value kept.
async function readTokenForm(c: Context<AppEnv>): Promise<TokenFormValues> {
  const body = await c.req.parseBody({ all: true });
  const all = (name: string) =>
    [body[name] ?? []].flat().filter((value): value is string => typeof value === "string");
  return {
    name: all("name")[0] ?? "",
    permissions: all("permissions"),
    expiresInDays: all("expiresInDays")[0] ?? "",
    ipAllowlist: all("ipAllowlist")[0] ?? "",
  };
}

// The form's text as the JSON API's input: days as a number, the allowlist one entry a line.
function inputOf(values: TokenFormValues) {
  return {
    name: values.name,
    permissions: values.permissions,
    expiresInDays: values.expiresInDays === "" ? Number.NaN : Number(values.expiresInDays),
    ipAllowlist: values.ipAllowlist.split(/\r?\n/).map((line) => line.trim()).filter(Boolean),
  };
}

// `permissions.2` and `ipAllowlist.0` belong beside their form field.
function fieldsOf(issues: { path: PropertyKey[]; message: string }[]): FieldErrors {
  const fields: FieldErrors = {};
  for (const issue of issues) fields[String(issue.path[0] ?? "form")] ??= issue.message;
  return fields;
}

/** `/account/tokens`: the signed-in user's personal API tokens (the prefix guard signs them in). */
export function accountTokensPages(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();

  routes.get("/account/tokens", (c) => {
    const notice = NOTICES[c.req.query("notice") ?? ""];
    return renderTokens(c, deps, requireAuth(c), { flash: notice ? [notice] : [] });
  });

  routes.post("/account/tokens", async (c) => {
    const auth = requireAuth(c);
    const values = await readTokenForm(c);
    const parsed = CreateApiTokenInput.safeParse(inputOf(values));
    if (!parsed.success) {
      return renderTokens(c, deps, auth, {
        values,
        errors: fieldsOf(parsed.error.issues),
        status: 400,
      });
    }
    try {
      const tenantId = c.get("tenantId");
      const audit = { ...auditContextOf(c), tenantId };
      const { token, secret } = await createApiToken(deps, audit, auth, tenantId, parsed.data);
      return renderTokens(c, deps, auth, { created: { name: token.name, secret } });
    } catch (err) {
      if (!(err instanceof AppError) || err.status >= 500) throw err;
      const flash: FlashMessage[] = [{ kind: "error", text: err.message }];
      return renderTokens(c, deps, auth, { values, flash, status: 400 });
    }
  });

  routes.post("/account/tokens/:id/revoke", async (c) => {
    let notice = "revoked";
    try {
      await revokeOwnApiToken(deps, auditContextOf(c), requireAuth(c), c.req.param("id"));
    } catch (err) {
      if (!(err instanceof AppError) || err.code !== "not_found") throw err;
      notice = "missing";
    }
    return redirectAfterPost(c, `/account/tokens?notice=${notice}`);
  });

  return routes;
}
