// Writing a command into the outbox: its payload checked against its kind, its body signed, and
// the one statement that supersedes, inserts and announces it, either in the transaction of the
// change that caused it or, for a command that is the whole change, audited in that statement.
import { type SQL, sql } from "drizzle-orm";
import { COMMAND_SPECS, CommandKind } from "../../agent/protocol/commands.ts";
import type { Db } from "../../db/client.ts";
import { newId } from "../../db/ids.ts";
import { rowsOf } from "../../db/migrate.ts";
import { agentCommands, auditLog, hosts } from "../../db/schema.ts";
import type { AppDeps } from "../deps.ts";
import { AppError } from "../errors.ts";
import type { CommandView, EnqueueCommandInput } from "./agent-commands.ts";
import { appendedRow, type AuditAppend, type AuditRow } from "./audit.ts";
import { HOST_EVENTS_CHANNEL } from "./host-events.ts";
import { hostNotFound } from "./host-view.ts";

// The `command` frame carries the body as a string of at most this many characters.
const MAX_BODY_CHARS = 512 * 1024;

/** A command ready to be written: checked, timed and signed, with no row yet. */
export interface SignedCommand {
  id: string;
  hostId: string;
  siteId: string | null;
  kind: string;
  payload: Record<string, unknown>;
  issuedBy: string | null;
  /** Whether it replaces older queued commands of its kind for the same host and site. */
  supersedes: boolean;
  createdAt: Date;
  notBefore: Date;
  expiresAt: Date;
  body: string;
  signature: string;
}

// The payload as the kind's spec parses it, and how long the command stays deliverable.
function checkedCommand(input: Omit<EnqueueCommandInput, "host">) {
  if (!CommandKind.safeParse(input.kind).success) {
    throw new AppError("invalid_input", `"${input.kind}" is not a valid command kind`);
  }
  const spec = COMMAND_SPECS[input.kind];
  const ttlMs = input.ttlMs ?? spec?.ttlMs;
  if (ttlMs === undefined) {
    throw new AppError("invalid_input", `Unknown command kind "${input.kind}"`);
  }
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new AppError("invalid_input", `A command's lifetime must be positive, not ${ttlMs} ms`);
  }
  if (!spec) return { payload: input.payload, ttlMs, supersedes: false };
  const parsed = spec.payload.safeParse(input.payload);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `payload.${issue.path.join(".")}` : "payload";
    throw new AppError(
      "invalid_input",
      `Invalid ${where} for command "${input.kind}": ${issue?.message ?? "rejected"}`,
    );
  }
  return { payload: parsed.data, ttlMs, supersedes: spec.supersedes };
}

/** Checks the payload against its kind and signs the body the agent will verify. */
export async function signCommand(
  deps: AppDeps,
  hostId: string,
  input: Omit<EnqueueCommandInput, "host">,
): Promise<SignedCommand> {
  const { payload, ttlMs, supersedes } = checkedCommand(input);
  const now = deps.now();
  const notBefore = input.notBefore ?? now;
  // The lifetime counts from when the command may first run, not from when it was written.
  const expiresAt = new Date(Math.max(now.getTime(), notBefore.getTime()) + ttlMs);
  const id = newId("cmd");
  const { body, signature } = await deps.commandSigner.sign({
    id,
    hostId,
    siteId: input.siteId,
    kind: input.kind,
    payload,
    issuedAt: now.toISOString(),
    notBefore: notBefore.toISOString(),
    expiresAt: expiresAt.toISOString(),
  });
  // An oversized body could never be delivered: refuse it now rather than let it expire unseen.
  if (body.length > MAX_BODY_CHARS) {
    throw new AppError(
      "payload_too_large",
      `Command "${input.kind}" is ${body.length} characters long; the limit is ${MAX_BODY_CHARS}`,
    );
  }
  return {
    id,
    hostId,
    siteId: input.siteId,
    kind: input.kind,
    payload,
    issuedBy: input.issuedBy,
    supersedes,
    createdAt: now,
    notBefore,
    expiresAt,
    body,
    signature,
  };
}

/** Where the statement finds the command's host. */
export type HostSource =
  /** The caller's transaction already holds the host. */
  | { known: { id: string; tenantId: string } }
  /** The tenant's live host, locked like getLiveHostRefOrThrow does; missing, nothing is written. */
  | { live: { id: string; tenantId: string } };

function hostCte(source: HostSource): SQL {
  if ("known" in source) {
    return sql`select ${source.known.id}::text as id, ${source.known.tenantId}::text as tenant_id`;
  }
  const { id, tenantId } = source.live;
  return sql`select id, tenant_id from ${hosts}
    where id = ${id} and tenant_id = ${tenantId} and revoked_at is null for key share`;
}

/**
 * One statement, since every command passes here: it ends the older queued commands this one
 * replaces, inserts it, queues the notices (sent only if it commits) that wake the replica
 * holding the host's socket and tell waiters the replaced ones ended, and appends `audit` when
 * given. Everything else on the new row is known already, so only its `seq` (and the audit row's
 * chain fields) come back; no row comes back when the host was not found.
 */
export function outboxStatement(command: SignedCommand, host: HostSource, audit?: AuditAppend) {
  const at = (date: Date) => sql`${date.toISOString()}::timestamptz`;
  const sameSite = command.siteId === null
    ? sql`site_id is null`
    : sql`site_id = ${command.siteId}`;
  const wake = JSON.stringify({ event: "commands", hostId: command.hostId });
  return sql`with host as (${hostCte(host)}), replaced as (
      update ${agentCommands} set state = 'superseded', finished_at = ${at(command.createdAt)},
        error = ${`superseded by ${command.id}`}
      where ${command.supersedes ? sql`true` : sql`false`}
        and host_id = (select id from host) and ${sameSite}
        and kind = ${command.kind} and state = 'queued'
      returning id
    ), inserted as (
      insert into ${agentCommands} (id, host_id, tenant_id, site_id, kind, payload, body,
        signature, issued_by, created_at, not_before, expires_at)
      select ${command.id}, host.id, host.tenant_id, ${command.siteId}, ${command.kind},
        ${JSON.stringify(command.payload)}::jsonb, ${command.body}, ${command.signature},
        ${command.issuedBy}, ${at(command.createdAt)}, ${at(command.notBefore)},
        ${at(command.expiresAt)}
      from host
      returning seq
    ), notices as (
      select pg_notify(${HOST_EVENTS_CHANNEL}, json_build_object('event', 'command_done',
        'hostId', ${command.hostId}::text, 'commandId', id)::text) from replaced
      union all
      select pg_notify(${HOST_EVENTS_CHANNEL}, ${wake}) from inserted
    ), audited as (
      select ${
    audit ? sql`${audit.call} as appended from inserted` : sql`null::${auditLog} as appended`
  }
    )
    select inserted.seq as command_seq, (select count(*) from notices) as notices,
      (audited.appended).seq, (audited.appended).occurred_at, (audited.appended).prev_hash, (audited.appended).hash
    from inserted left join audited on true`;
}

interface OutboxRow {
  command_seq: string | number;
  seq: string | number | null;
  occurred_at: string | Date | null;
  prev_hash: string | null;
  hash: string | null;
}

/** Runs `outboxStatement` on `db`: the new command's `seq` and the audit row, if one was given. */
export async function writeCommand(
  db: Db,
  command: SignedCommand,
  host: HostSource,
  audit?: AuditAppend,
): Promise<{ seq: number; audited: AuditRow | null }> {
  const [row] = rowsOf<OutboxRow>(await db.execute(outboxStatement(command, host, audit)));
  if (!row) {
    if ("live" in host) throw hostNotFound();
    throw new Error("agent command insert returned no row");
  }
  const audited = audit && row.seq !== null && row.occurred_at !== null && row.prev_hash !== null &&
      row.hash !== null
    ? appendedRow(audit, {
      seq: row.seq,
      occurred_at: row.occurred_at,
      prev_hash: row.prev_hash,
      hash: row.hash,
    })
    : null;
  if (audit && !audited) throw new Error("agent command audit returned no row");
  return { seq: Number(row.command_seq), audited };
}

/** The view of a command just written. */
export function newCommandView(command: SignedCommand, seq: number): CommandView {
  return {
    id: command.id,
    seq,
    hostId: command.hostId,
    siteId: command.siteId,
    kind: command.kind,
    payload: command.payload,
    state: "queued",
    createdAt: command.createdAt.toISOString(),
    notBefore: command.notBefore.toISOString(),
    expiresAt: command.expiresAt.toISOString(),
    sentAt: null,
    startedAt: null,
    finishedAt: null,
    deliveries: 0,
    result: null,
    error: null,
    issuedBy: command.issuedBy,
  };
}
