import { sha256 } from "@oslojs/crypto/sha2";
import { encodeHexLowerCase } from "@oslojs/encoding";
import { desc, sql } from "drizzle-orm";
import type { Db, Tx } from "../../db/client.ts";
import { newId } from "../../db/ids.ts";
import { rowsOf } from "../../db/migrate.ts";
import { auditLog } from "../../db/schema.ts";
import { scrubSecrets } from "../log.ts";
import { canonicalJson } from "./canonical-json.ts";

/** The `prev_hash` of the first row ever written. */
export const GENESIS_HASH = "0".repeat(64);

// Serialises audit writers so `seq` stays gap-free and each row chains to the one before it.
const AUDIT_LOCK_KEY = 7_242_180_602;

/** Who acted and from where; built once per request (or job) and passed to every verb. */
export interface AuditContext {
  actor: { kind: "user" | "api_token" | "agent" | "system" | "anonymous"; id?: string };
  tenantId?: string;
  ip?: string;
  userAgent?: string;
  requestId?: string;
}

/** What happened: `action` is `resource.verb`, e.g. `sites.create`. */
export interface AuditEntry {
  action: string;
  resourceType?: string;
  resourceId?: string;
  outcome: "success" | "failure" | "denied";
  /** Extra facts; secret-named fields are replaced before anything is stored. */
  details?: Record<string, unknown>;
}

/** A stored audit row, as read back. */
export type AuditRow = typeof auditLog.$inferSelect;

/**
 * Appends an audit row inside the caller's transaction, so the change and its record commit or
 * roll back together: if this insert fails, the change is undone too.
 */
export async function recordAudit(tx: Tx, ctx: AuditContext, entry: AuditEntry): Promise<AuditRow> {
  if (!/^[a-z][a-z_]*(\.[a-z][a-z_]*)+$/.test(entry.action)) {
    throw new Error(`Audit action "${entry.action}" must look like resource.verb`);
  }
  await tx.execute(sql`select pg_advisory_xact_lock(${AUDIT_LOCK_KEY})`);
  const [last] = await tx
    .select({ seq: auditLog.seq, hash: auditLog.hash })
    .from(auditLog)
    .orderBy(desc(auditLog.seq))
    .limit(1);
  // Read after taking the lock, so time never runs backwards along the chain.
  const clock = await tx.execute(
    sql`select (extract(epoch from date_trunc('milliseconds', clock_timestamp())) * 1000)::bigint as ms`,
  );
  const occurredAt = new Date(Number(rowsOf<{ ms: string | number }>(clock)[0]?.ms));
  const details = JSON.parse(JSON.stringify(scrubSecrets(entry.details ?? {}))) as Record<
    string,
    unknown
  >;
  const row: AuditRow = {
    seq: (last?.seq ?? 0) + 1,
    id: newId("aud"),
    occurredAt,
    actorKind: ctx.actor.kind,
    actorId: ctx.actor.id ?? null,
    tenantId: ctx.tenantId ?? null,
    ip: ctx.ip ?? null,
    userAgent: ctx.userAgent?.slice(0, 512) ?? null,
    requestId: ctx.requestId ?? null,
    action: entry.action,
    resourceType: entry.resourceType ?? null,
    resourceId: entry.resourceId ?? null,
    outcome: entry.outcome,
    details,
    prevHash: last?.hash ?? GENESIS_HASH,
    hash: "",
  };
  row.hash = auditRowHash(row);
  await tx.insert(auditLog).values(row);
  return row;
}

/** Records an event that changes nothing else (a failed login, say) in its own transaction. */
export function recordAuditNow(db: Db, ctx: AuditContext, entry: AuditEntry): Promise<AuditRow> {
  return db.transaction((tx) => recordAudit(tx, ctx, entry));
}

/** SHA-256 over the previous hash and the row's canonical form: editing any field breaks it. */
export function auditRowHash(row: Omit<AuditRow, "hash">): string {
  const canonical = JSON.stringify([
    row.seq,
    row.id,
    row.occurredAt.toISOString(),
    row.actorKind,
    row.actorId,
    row.tenantId,
    row.ip,
    row.userAgent,
    row.requestId,
    row.action,
    row.resourceType,
    row.resourceId,
    row.outcome,
    canonicalJson(row.details),
  ]);
  return encodeHexLowerCase(sha256(new TextEncoder().encode(`${row.prevHash}\n${canonical}`)));
}
