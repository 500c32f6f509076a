/** @jsxImportSource hono/jsx */
import { type Context, Hono } from "hono";
import type { ZodType } from "zod";
import { can } from "../../api/auth/grants.ts";
import { accessOf } from "../../api/auth/route-access.ts";
import type { AppDeps, AppEnv } from "../../api/deps.ts";
import { AppError, type ErrorStatus } from "../../api/errors.ts";
import { auditContextOf } from "../../api/request-context.ts";
import { CreateRoleInput, UpdateRoleInput } from "../../api/services/role-inputs.ts";
import { createRole, deleteRole, updateRole } from "../../api/services/role-changes.ts";
import { getRole, listRoles, type RoleView } from "../../api/services/roles.ts";
import type { FlashMessage } from "../components.tsx";
import { type FieldErrors, fieldErrorsOf } from "../forms.ts";
import { pagePermission, redirectAfterPost } from "../page-auth.tsx";
import { pageUserOf } from "../page-user.ts";
import { MessagePage } from "../pages/message.tsx";
import { EMPTY_ROLE_FORM, type RoleFormValues, RolePage, RolesPage } from "../pages/roles.tsx";

// Fixed texts picked by a query key, so the address bar cannot put words on the page.
const NOTICES: Record<string, string> = {
  created: "Role created.",
  saved: "Role saved.",
  deleted: "Role deleted.",
};

/** The notice a redirect after a post asked for, as a flash message. */
export function noticeFlash(c: Context<AppEnv>, notices: Record<string, string>): FlashMessage[] {
  const text = notices[c.req.query("notice") ?? ""];
  return text ? [{ kind: "success", text }] : [];
}

/** A refusal the service explained (403, 404, 409, 400) as a flash message with its status. */
export function refusalOf(err: unknown): { flash: FlashMessage; status: ErrorStatus } {
  const shown = ["forbidden", "not_found", "conflict", "invalid_input"];
  if (!(err instanceof AppError) || !shown.includes(err.code)) throw err;
  return { flash: { kind: "error", text: err.message }, status: err.status };
}

/** The field problems of a parse, keyed by the form's field (`permissions.3` → `permissions`). */
function problemsOf(fields: Record<string, string>): FieldErrors {
  const problems: FieldErrors = {};
  for (const [name, problem] of Object.entries(fields)) {
    problems[name.split(".")[0] ?? name] ??= problem;
  }
  return problems;
}

async function readRoleForm(c: Context<AppEnv>): Promise<RoleFormValues> {
  const body = await c.req.parseBody({ all: true });
  const list = (v: unknown) => (Array.isArray(v) ? v : v === undefined ? [] : [v]);
  const text = (v: unknown) => (typeof v === "string" ? v : "");
  return {
    name: text(body.name),
    description: text(body.description),
    parentId: text(body.parentId),
    permissions: list(body.permissions).filter((p): p is string => typeof p === "string"),
  };
}

function parse<T>(schema: ZodType<T>, value: unknown) {
  const result = schema.safeParse(value);
  if (result.success) return { ok: true as const, data: result.data };
  const fields: Record<string, string> = {};
  for (const issue of result.error.issues) fields[issue.path.join(".") || "form"] ??= issue.message;
  return { ok: false as const, problems: problemsOf(fields) };
}

const formOf = (role: RoleView): RoleFormValues => ({
  name: role.name,
  description: role.description,
  parentId: role.parentId ?? "",
  permissions: role.permissions,
});

/** `/roles` and `/roles/:id`: the tenant's roles; creating, changing and deleting custom ones. */
export function rolesPages(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  const permit = pagePermission(deps);

  async function listPage(
    c: Context<AppEnv>,
    form: { values?: RoleFormValues; problems?: FieldErrors; flash?: FlashMessage[] } = {},
    status: ErrorStatus | 200 = 200,
  ) {
    const access = accessOf(c);
    return c.html(
      <RolesPage
        user={pageUserOf(c)}
        roles={await listRoles(deps, access)}
        canManage={can(access.grants, "roles.manage")}
        values={form.values ?? EMPTY_ROLE_FORM}
        problems={form.problems}
        flash={form.flash ?? noticeFlash(c, NOTICES)}
      />,
      status,
    );
  }

  async function rolePage(
    c: Context<AppEnv>,
    form: { values?: RoleFormValues; problems?: FieldErrors; flash?: FlashMessage[] } = {},
    status: ErrorStatus | 200 = 200,
  ) {
    const access = accessOf(c);
    let role: RoleView;
    try {
      role = await getRole(deps, access, c.req.param("id") ?? "");
    } catch (err) {
      if (!(err instanceof AppError) || err.code !== "not_found") throw err;
      const link = { href: "/roles", label: "All roles" };
      return c.html(
        <MessagePage
          title="Role not found"
          message={err.message}
          link={link}
          user={pageUserOf(c)}
        />,
        404,
      );
    }
    return c.html(
      <RolePage
        user={pageUserOf(c)}
        role={role}
        roles={await listRoles(deps, access)}
        canManage={can(access.grants, "roles.manage")}
        values={form.values ?? formOf(role)}
        problems={form.problems}
        flash={form.flash ?? noticeFlash(c, NOTICES)}
      />,
      status,
    );
  }

  routes.get("/roles", permit("roles.read", "/roles"), (c) => listPage(c));

  routes.post("/roles", permit("roles.manage", "/roles"), async (c) => {
    const values = await readRoleForm(c);
    const parsed = parse(CreateRoleInput, { ...values, parentId: values.parentId || undefined });
    if (!parsed.ok) return listPage(c, { values, problems: parsed.problems, flash: [] }, 400);
    try {
      await createRole(deps, auditContextOf(c), accessOf(c), parsed.data);
    } catch (err) {
      const fields = fieldErrorsOf(err);
      if (fields) return listPage(c, { values, problems: problemsOf(fields), flash: [] }, 400);
      const { flash, status } = refusalOf(err);
      return listPage(c, { values, flash: [flash] }, status);
    }
    return redirectAfterPost(c, "/roles?notice=created");
  });

  routes.get("/roles/:id", permit("roles.read", "/roles"), (c) => rolePage(c));

  routes.post("/roles/:id", permit("roles.manage", "/roles"), async (c) => {
    const values = await readRoleForm(c);
    const parsed = parse(UpdateRoleInput, { ...values, parentId: values.parentId || null });
    if (!parsed.ok) return rolePage(c, { values, problems: parsed.problems, flash: [] }, 400);
    const roleId = c.req.param("id");
    try {
      await updateRole(deps, auditContextOf(c), accessOf(c), roleId, parsed.data);
    } catch (err) {
      const fields = fieldErrorsOf(err);
      if (fields) return rolePage(c, { values, problems: problemsOf(fields), flash: [] }, 400);
      const { flash, status } = refusalOf(err);
      return rolePage(c, { values, flash: [flash] }, status);
    }
    return redirectAfterPost(c, `/roles/${encodeURIComponent(roleId)}?notice=saved`);
  });

  routes.post("/roles/:id/delete", permit("roles.manage", "/roles"), async (c) => {
    try {
      await deleteRole(deps, auditContextOf(c), accessOf(c), c.req.param("id"));
    } catch (err) {
      const { flash, status } = refusalOf(err);
      return rolePage(c, { flash: [flash] }, status);
    }
    return redirectAfterPost(c, "/roles?notice=deleted");
  });

  return routes;
}
