import { sha256 } from "@oslojs/crypto/sha2";
import { encodeHexLowerCase } from "@oslojs/encoding";
import { type SQL, sql } from "drizzle-orm";
import type { Db, Tx } from "../../db/client.ts";
import { newId } from "../../db/ids.ts";
import { rowsOf } from "../../db/migrate.ts";
import { auditLog } from "../../db/schema.ts";
import { scrubSecrets } from "../log.ts";
import { canonicalJson } from "./canonical-json.ts";

/** The `prev_hash` of the first row ever written (audit_append, migration 0013, starts there). */
export const GENESIS_HASH = "0".repeat(64);

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

/** An audit append as one SQL call (the `audit_append` function), and the row it will write. */
export interface AuditAppend {
  fields: Omit<AuditRow, "seq" | "occurredAt" | "prevHash" | "hash">;
  /** `audit_append(…)`: its value is the stored row, of the table's row type. */
  call: SQL;
}

/**
 * Prepares an audit row for `audit_append`, which takes the chain's lock, links the row to the
 * chain's tail and inserts it. Callers embed the call in the statement of their own change (see
 * recordAudit for the usual form), so the change and its record commit or roll back together.
 */
export function auditAppend(ctx: AuditContext, entry: AuditEntry): AuditAppend {
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
  const call = sql`audit_append(${fields.id}, ${fields.actorKind}, ${fields.actorId},
    ${fields.tenantId}, ${fields.ip}, ${fields.userAgent}, ${fields.requestId}, ${fields.action},
    ${fields.resourceType}, ${fields.resourceId}, ${fields.outcome},
    ${JSON.stringify(details)}::jsonb, ${rest})`;
  return { fields, call };
}

/** What `audit_append` returns, as a driver hands it back. */
export interface AppendedRow {
  seq: string | number;
  occurred_at: string | Date;
  prev_hash: string;
  hash: string;
}

/** The stored row, from what was appended and what `audit_append` returned. */
export function appendedRow(append: AuditAppend, stored: AppendedRow): AuditRow {
  return {
    ...append.fields,
    seq: Number(stored.seq),
    occurredAt: new Date(stored.occurred_at),
    prevHash: stored.prev_hash,
    hash: stored.hash,
  };
}

/**
 * Appends an audit row inside the caller's transaction, so the change and its record commit or
 * roll back together: if this insert fails, the change is undone too. The chain's lock is held
 * from here to the commit; a hot path that can make its change in one statement embeds
 * `auditAppend(…).call` there instead, and holds it for no client round trip at all.
 */
export async function recordAudit(tx: Tx, ctx: AuditContext, entry: AuditEntry): Promise<AuditRow> {
  const append = auditAppend(ctx, entry);
  const [stored] = rowsOf<AppendedRow>(
    await tx.execute(
      sql`select seq, occurred_at, prev_hash, hash from ${append.call}`,
    ),
  );
  if (!stored) throw new Error("audit insert returned no row");
  return appendedRow(append, stored);
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
