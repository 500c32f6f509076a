import { count, lt, max, sql } from "drizzle-orm";
import { z } from "zod";
import { auditLog } from "../../db/schema.ts";
import { rowsOf } from "../../db/migrate.ts";
import type { AppDeps, RequestAuth } from "../deps.ts";
import { AppError } from "../errors.ts";
import { type AuditContext, recordAudit } from "./audit.ts";

/** The shortest retention a prune accepts: recent history is evidence, not clutter. */
export const MIN_RETENTION_DAYS = 7;

/** `POST /api/v1/audit/prune`: remove entries older than this many days. */
export const AuditPruneInput = z.object({
  olderThanDays: z.number().int().min(MIN_RETENTION_DAYS).max(36_500),
}).strict();
export type AuditPruneInput = z.infer<typeof AuditPruneInput>;

/**
 * Removes audit entries older than `olderThanDays` (superusers only). The prune is recorded in
 * the log first, in the same transaction, and the database function that deletes leaves an
 * anchor, so the shortened chain still verifies end to end.
 */
export async function pruneAuditLog(
  deps: AppDeps,
  audit: AuditContext,
  auth: RequestAuth,
  input: AuditPruneInput,
): Promise<{ pruned: number; upToSeq: number | null }> {
  if (!auth.isSuperuser) {
    throw new AppError("forbidden", "Only a superuser can prune the audit log");
  }
  const cutoff = new Date(deps.now().getTime() - input.olderThanDays * 24 * 60 * 60 * 1000);
  return await deps.database.db.transaction(async (tx) => {
    const [old] = await tx
      .select({ upTo: max(auditLog.seq), rows: count() })
      .from(auditLog)
      .where(lt(auditLog.occurredAt, cutoff));
    const upToSeq = old?.upTo ?? null;
    // Written before the delete: it is newer than the cutoff, so it stays and anchors the chain.
    await recordAudit(tx, audit, {
      action: "audit.prune",
      resourceType: "audit_log",
      outcome: "success",
      details: {
        olderThanDays: input.olderThanDays,
        cutoff: cutoff.toISOString(),
        rows: old?.rows ?? 0,
        upToSeq,
      },
    });
    if (upToSeq === null) return { pruned: 0, upToSeq };
    const result = await tx.execute(sql`select audit_log_prune(${upToSeq}) as removed`);
    const removed = Number(rowsOf<{ removed: number | string }>(result)[0]?.removed ?? 0);
    return { pruned: removed, upToSeq };
  });
}
