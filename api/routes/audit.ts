import { Hono } from "hono";
import { requireAuth, signedIn } from "../auth/authenticate.ts";
import type { AppDeps, AppEnv } from "../deps.ts";
import { auditContextOf } from "../request-context.ts";
import { verifyAuditLog } from "../services/audit-check.ts";
import { AuditExportInput, exportAudit } from "../services/audit-export.ts";
import { AuditPruneInput, pruneAuditLog } from "../services/audit-retention.ts";
import { AuditQueryInput, searchAudit } from "../services/audit-search.ts";
import { validate } from "../validate.ts";

const CONTENT_TYPE = { csv: "text/csv; charset=utf-8", json: "application/json" } as const;

/** `/api/v1/audit`: search, export (CSV/JSON, streamed), chain verification and retention. */
export function auditRoutes(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();

  routes.get("/audit", signedIn, validate("query", AuditQueryInput), async (c) => {
    return c.json(await searchAudit(deps, requireAuth(c), c.req.valid("query")));
  });

  routes.get("/audit/export", signedIn, validate("query", AuditExportInput), async (c) => {
    const { format, ...filters } = c.req.valid("query");
    const stream = await exportAudit(deps, auditContextOf(c), requireAuth(c), filters, format);
    const date = deps.now().toISOString().slice(0, 10);
    c.header("Content-Type", CONTENT_TYPE[format]);
    c.header("Content-Disposition", `attachment; filename="caddis-audit-${date}.${format}"`);
    c.header("Cache-Control", "no-store");
    return c.body(stream);
  });

  routes.get("/audit/verify", async (c) => {
    return c.json(await verifyAuditLog(deps, auditContextOf(c), requireAuth(c)));
  });

  routes.post("/audit/prune", signedIn, validate("json", AuditPruneInput), async (c) => {
    const auth = requireAuth(c);
    return c.json(await pruneAuditLog(deps, auditContextOf(c), auth, c.req.valid("json")));
  });

  return routes;
}
