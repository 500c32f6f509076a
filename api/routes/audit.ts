import { Hono } from "hono";
import { requireAuth } from "../auth/authenticate.ts";
import { accessOf, permissionGuard, superuserOnly } from "../auth/route-access.ts";
import type { AppDeps, AppEnv } from "../deps.ts";
import { auditContextOf } from "../request-context.ts";
import { verifyAuditLog } from "../services/audit-check.ts";
import { AuditExportInput, exportAudit } from "../services/audit-export.ts";
import { AuditPruneInput, pruneAuditLog } from "../services/audit-retention.ts";
import { AuditQueryInput, searchAudit } from "../services/audit-search.ts";
import { validate } from "../validate.ts";

const CONTENT_TYPE = { csv: "text/csv; charset=utf-8", json: "application/json" } as const;

/**
 * `/api/v1/audit`: search, export (CSV/JSON, streamed), chain verification and retention.
 * Superusers see every tenant's rows; everyone else only those of the tenant they act in.
 */
export function auditRoutes(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  const permit = permissionGuard(deps);

  routes.get("/audit", permit("audit.read"), validate("query", AuditQueryInput), async (c) => {
    return c.json(await searchAudit(deps, accessOf(c), c.req.valid("query")));
  });

  routes.get(
    "/audit/export",
    permit("audit.export"),
    validate("query", AuditExportInput),
    async (c) => {
      const { format, ...filters } = c.req.valid("query");
      const stream = await exportAudit(deps, auditContextOf(c), accessOf(c), filters, format);
      const date = deps.now().toISOString().slice(0, 10);
      c.header("Content-Type", CONTENT_TYPE[format]);
      c.header("Content-Disposition", `attachment; filename="caddis-audit-${date}.${format}"`);
      c.header("Cache-Control", "no-store");
      return c.body(stream);
    },
  );

  routes.get("/audit/verify", permit("audit.read"), async (c) => {
    return c.json(await verifyAuditLog(deps, auditContextOf(c), accessOf(c)));
  });

  routes.post("/audit/prune", superuserOnly, validate("json", AuditPruneInput), async (c) => {
    const auth = requireAuth(c);
    return c.json(await pruneAuditLog(deps, auditContextOf(c), auth, c.req.valid("json")));
  });

  return routes;
}
