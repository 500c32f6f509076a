/** @jsxImportSource hono/jsx */
import { type Context, Hono } from "hono";
import { type Access, accessOf } from "../../api/auth/route-access.ts";
import type { AppDeps, AppEnv } from "../../api/deps.ts";
import { auditContextOf } from "../../api/request-context.ts";
import { verifyAuditLog } from "../../api/services/audit-check.ts";
import { searchAudit } from "../../api/services/audit-search.ts";
import type { FieldProblems, FlashMessage } from "../components.tsx";
import { type FieldErrors, fieldErrorsOf } from "../forms.ts";
import { isHtmx, pagePermission } from "../page-auth.tsx";
import { requirePageUser } from "../page-user.ts";
import { AuditPage, verificationFlash } from "../pages/audit.tsx";
import { EntryRows } from "../pages/audit-entries.tsx";
import {
  AUDIT_FILTER_NAMES,
  type AuditFilterForm,
  parseAuditQuery,
  readAuditQuery,
  searchOf,
  serviceFilters,
} from "./audit-query.tsx";

/** Problems that belong to no form field (a bad cursor, say) go to the top of the page. */
function splitProblems(fields: FieldErrors): { problems: FieldProblems; flash: FlashMessage[] } {
  const names: readonly string[] = AUDIT_FILTER_NAMES;
  const problems: Record<string, string> = {};
  const flash: FlashMessage[] = [];
  for (const [name, problem] of Object.entries(fields)) {
    if (names.includes(name)) problems[name] = problem;
    else flash.push({ kind: "error", text: name === "form" ? problem : `${name} ${problem}` });
  }
  return { problems, flash };
}

/** Renders the page for these filters, or only the rows when htmx asks for the next page. */
async function renderAudit(
  c: Context<AppEnv>,
  deps: AppDeps,
  access: Access,
  query: { form: AuditFilterForm; cursor?: string },
  flash: FlashMessage[] = [],
) {
  const { form, cursor } = query;
  // The same URL answers with a page or a fragment, so caches must keep them apart.
  c.header("Vary", "HX-Request");
  const page = {
    user: requirePageUser(c),
    values: form,
    verifyAction: `/audit/verify${searchOf(form)}`,
  };
  const invalid = (fields: FieldErrors) => {
    const split = splitProblems(fields);
    return c.html(
      <AuditPage {...page} problems={split.problems} flash={[...flash, ...split.flash]} />,
      400,
    );
  };
  const parsed = parseAuditQuery(form, cursor);
  if (!parsed.ok) return invalid(parsed.fields);
  let result;
  try {
    result = await searchAudit(deps, access, parsed.data);
  } catch (err) {
    const fields = fieldErrorsOf(err);
    if (!fields) throw err;
    return invalid(fields);
  }
  const olderHref = result.nextCursor === null
    ? undefined
    : `/audit${searchOf({ ...form, cursor: result.nextCursor })}`;
  if (isHtmx(c) && cursor !== undefined) {
    return c.html(<EntryRows entries={result.entries} olderHref={olderHref} />);
  }
  const results = {
    entries: result.entries,
    olderHref,
    exportSearch: searchOf(serviceFilters(form)),
  };
  return c.html(<AuditPage {...page} results={results} flash={flash} />);
}

/** `GET /audit` and `POST /audit/verify`, for holders of `audit.read`. */
export function auditPages(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  const permit = pagePermission(deps);

  routes.get("/audit", permit("audit.read", "/audit"), async (c) => {
    return await renderAudit(c, deps, accessOf(c), readAuditQuery(c.req.query()));
  });

  // A post so the check (which writes its own audit row) is never triggered by a link or prefetch.
  routes.post("/audit/verify", permit("audit.read", "/audit"), async (c) => {
    const access = accessOf(c);
    const result = await verifyAuditLog(deps, auditContextOf(c), access);
    const { form } = readAuditQuery(c.req.query());
    return await renderAudit(c, deps, access, { form }, [verificationFlash(result)]);
  });

  return routes;
}
