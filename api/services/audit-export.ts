import { and, asc, desc, gt, lte } from "drizzle-orm";
import { z } from "zod";
import { auditLog } from "../../db/schema.ts";
import type { Access } from "../auth/route-access.ts";
import type { AppDeps } from "../deps.ts";
import { type AuditContext, type AuditRow, recordAuditNow } from "./audit.ts";
import {
  auditEntryView,
  AuditFilterInput,
  auditFilterWhere,
  scopeAuditFilters,
} from "./audit-search.ts";

/** The formats `GET /api/v1/audit/export` writes. */
export const AuditExportFormat = z.enum(["csv", "json"], { message: "must be csv or json" });
export type AuditExportFormat = z.infer<typeof AuditExportFormat>;

/** `GET /api/v1/audit/export`: the search filters (no paging) and a format. */
export const AuditExportInput = AuditFilterInput.safeExtend({
  format: AuditExportFormat.default("csv"),
});
export type AuditExportInput = z.infer<typeof AuditExportInput>;

const BATCH = 1000;

/** CSV columns, in order: every stored column, so an export can be re-verified elsewhere. */
const CSV_COLUMNS: [string, (row: AuditRow) => string | number | null][] = [
  ["seq", (r) => r.seq],
  ["id", (r) => r.id],
  ["occurred_at", (r) => r.occurredAt.toISOString()],
  ["actor_kind", (r) => r.actorKind],
  ["actor_id", (r) => r.actorId],
  ["tenant_id", (r) => r.tenantId],
  ["ip", (r) => r.ip],
  ["user_agent", (r) => r.userAgent],
  ["request_id", (r) => r.requestId],
  ["action", (r) => r.action],
  ["resource_type", (r) => r.resourceType],
  ["resource_id", (r) => r.resourceId],
  ["outcome", (r) => r.outcome],
  ["details", (r) => JSON.stringify(r.details)],
  ["prev_hash", (r) => r.prevHash],
  ["hash", (r) => r.hash],
];

/**
 * One CSV field: spreadsheet formula triggers get a leading `'` (so `=HYPERLINK(…)` in a user
 * agent stays text when an auditor opens the file), then RFC 4180 quoting.
 */
export function csvField(value: string | number | null): string {
  let text = value === null ? "" : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** One CSV record, CRLF-terminated as RFC 4180 asks. */
export function csvRecord(values: (string | number | null)[]): string {
  return `${values.map(csvField).join(",")}\r\n`;
}

/**
 * Streams every matching row, oldest first, in batches of 1,000 read only as the client takes
 * them, so the whole log never sits in memory. The export is audited before the first byte; it
 * stops at the newest row that existed then, so a busy log cannot keep it running forever.
 */
export async function exportAudit(
  deps: AppDeps,
  audit: AuditContext,
  access: Access,
  input: AuditFilterInput,
  format: AuditExportFormat,
): Promise<ReadableStream<Uint8Array>> {
  const filters = scopeAuditFilters(access, "audit.export", input);
  const db = deps.database.db;
  await recordAuditNow(db, audit, {
    action: "audit.export",
    outcome: "success",
    details: { format, filters },
  });
  const [head] = await db.select({ seq: auditLog.seq }).from(auditLog)
    .orderBy(desc(auditLog.seq)).limit(1);
  const headSeq = head?.seq ?? 0;
  const where = auditFilterWhere(filters);
  const encoder = new TextEncoder();
  let afterSeq = 0;
  let written = 0;
  let done = false;

  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(
        format === "csv" ? csvRecord(CSV_COLUMNS.map(([name]) => name)) : "[",
      ));
    },
    async pull(controller) {
      if (done) return;
      try {
        const rows = await db.select().from(auditLog)
          .where(and(where, gt(auditLog.seq, afterSeq), lte(auditLog.seq, headSeq)))
          .orderBy(asc(auditLog.seq))
          .limit(BATCH);
        let chunk = "";
        for (const row of rows) {
          chunk += format === "csv"
            ? csvRecord(CSV_COLUMNS.map(([, get]) => get(row)))
            : `${written === 0 ? "\n" : ",\n"}${JSON.stringify(auditEntryView(row))}`;
          written++;
        }
        const last = rows.at(-1);
        if (last) afterSeq = last.seq;
        if (rows.length < BATCH) {
          done = true;
          if (format === "json") chunk += "\n]";
        }
        if (chunk) controller.enqueue(encoder.encode(chunk));
        if (done) controller.close();
      } catch (err) {
        // Headers are already sent; all that is left is to cut the download short and say why here.
        deps.log.error({ err, requestId: audit.requestId }, "audit export failed");
        done = true;
        controller.error(new Error("audit export failed"));
      }
    },
  }, { highWaterMark: 0 });
}
