import { sha256 } from "@oslojs/crypto/sha2";
import { encodeHexLowerCase } from "@oslojs/encoding";
import { sql } from "drizzle-orm";
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
  const details = JSON.parse(JSON.stringify(scrubSecrets(entry.details ?? {}))) as Record<
    string,
    unknown
  >;
  const fields = {
    id: newId("aud"),
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
  };
  // auditRowHash's canonical form after `seq`, `id` and the time: the database fills those in.
  const rest = JSON.stringify([
    fields.actorKind,
    fields.actorId,
    fields.tenantId,
    fields.ip,
    fields.userAgent,
    fields.requestId,
    fields.action,
    fields.resourceType,
    fields.resourceId,
    fields.outcome,
    canonicalJson(details),
  ]).slice(1);
  const locked = tx.execute(sql`select pg_advisory_xact_lock(${AUDIT_LOCK_KEY})`);
  // One statement once the lock is held, since every other writer waits for it: it reads the
  // chain's tail and the clock after taking the lock (so time never runs backwards along the
  // chain) and hashes exactly as auditRowHash does, which verification checks row by row. It is
  // sent right behind the lock request: the connection runs them in order, so it still starts
  // (and takes its snapshot) only once the lock is held, but without waiting for this process to
  // hear so. Were it ever to run first, the duplicate `seq` would fail the transaction.
  const insert = tx.execute(sql`insert into ${auditLog} (seq, id, occurred_at, actor_kind,
      actor_id, tenant_id, ip, user_agent, request_id, action, resource_type, resource_id,
      outcome, details, prev_hash, hash)
    select next.seq, ${fields.id}, next.at, ${fields.actorKind}, ${fields.actorId},
      ${fields.tenantId}, ${fields.ip}, ${fields.userAgent}, ${fields.requestId}, ${fields.action},
      ${fields.resourceType}, ${fields.resourceId}, ${fields.outcome},
      ${JSON.stringify(details)}::jsonb, next.prev,
      encode(sha256(convert_to(next.prev || chr(10) || '[' || next.seq || ',' ||
        ${JSON.stringify(fields.id)} || ',"' ||
        to_char(next.at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') || '",' ||
        ${rest}, 'UTF8')), 'hex')
    from (
      select coalesce(last.seq, 0) + 1 as seq, coalesce(last.hash, ${GENESIS_HASH}) as prev,
        date_trunc('milliseconds', clock_timestamp()) as at
      from (select 1) as one
      left join (
        select seq, hash from ${auditLog} order by seq desc limit 1
      ) as last on true
    ) as next
    returning seq, occurred_at, prev_hash, hash`);
  const [, written] = await Promise.all([locked, insert]);
  const [stored] = rowsOf<
    { seq: string | number; occurred_at: string | Date; prev_hash: string; hash: string }
  >(written);
  if (!stored) throw new Error("audit insert returned no row");
  return {
    ...fields,
    seq: Number(stored.seq),
    occurredAt: new Date(stored.occurred_at),
    prevHash: stored.prev_hash,
    hash: stored.hash,
  };
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
