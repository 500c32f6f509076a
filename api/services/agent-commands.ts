// The durable command outbox: commands are inserted and signed in the transaction of the change
// that causes them, listed for the host pages, and cancelled by users while still undelivered.
// Delivery to agents lives in agent-command-delivery.ts, their answers in agent-command-results.ts.
import { and, desc, eq, lt, sql } from "drizzle-orm";
import { COMMAND_SPECS, CommandKind, type CommandState } from "../../agent/protocol/commands.ts";
import type { Db, Tx } from "../../db/client.ts";
import { newId } from "../../db/ids.ts";
import { rowsOf } from "../../db/migrate.ts";
import { agentCommands } from "../../db/schema.ts";
import { type Access, requirePermission } from "../auth/route-access.ts";
import type { AppDeps } from "../deps.ts";
import { AppError } from "../errors.ts";
import { commandView, notifyCommandsDone, OPEN_STATE_SQL } from "./agent-command-rows.ts";
import { type AuditContext, recordAudit } from "./audit.ts";
import { getLiveHostOrThrow } from "./host-view.ts";
import { commandDoneNoticeSql, HOST_EVENTS_CHANNEL, notifyHostEvent } from "./host-events.ts";

// The `command` frame carries the body as a string of at most this many characters.
const MAX_BODY_CHARS = 512 * 1024;

/** The host a command or report concerns, as the caller already loaded it. */
export interface HostRef {
  id: string;
  tenantId: string;
  name: string;
}

/** A command as the API and pages show it: JSON-ready, never its signed body or signature. */
export interface CommandView {
  id: string;
  /** Orders commands per host; pass the last one seen as `beforeSeq` for the next page. */
  seq: number;
  hostId: string;
  siteId: string | null;
  kind: string;
  payload: Record<string, unknown>;
  state: CommandState;
  createdAt: string;
  notBefore: string;
  expiresAt: string;
  sentAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  deliveries: number;
  result: Record<string, unknown> | null;
  error: string | null;
  issuedBy: string | null;
}

/** What a change asks a host (or one of its sites) to do. */
export interface EnqueueCommandInput {
  host: HostRef;
  siteId: string | null;
  kind: string;
  payload: Record<string, unknown>;
  /** The user who caused it; null for the system. */
  issuedBy: string | null;
  /** Not to run before this time; defaults to now. */
  notBefore?: Date;
  /** Overrides the kind's TTL; required for kinds without a spec (test-only kinds). */
  ttlMs?: number;
}

// The payload as the kind's spec parses it, and how long the command stays deliverable.
function checkedCommand(input: EnqueueCommandInput) {
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

/**
 * Inserts a signed command in the caller's transaction, so it exists exactly when the change that
 * caused it commits; supersedes older queued commands of the same kind when the kind says so, and
 * wakes the replica holding the host's socket.
 */
export async function enqueueCommand(
  tx: Tx,
  deps: AppDeps,
  input: EnqueueCommandInput,
): Promise<CommandView> {
  const { payload, ttlMs, supersedes } = checkedCommand(input);
  const now = deps.now();
  const notBefore = input.notBefore ?? now;
  // The lifetime counts from when the command may first run, not from when it was written.
  const expiresAt = new Date(Math.max(now.getTime(), notBefore.getTime()) + ttlMs);
  const id = newId("cmd");
  const { body, signature } = await deps.commandSigner.sign({
    id,
    hostId: input.host.id,
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
  // One statement, since every command passes here: it ends the older queued commands this one
  // replaces, inserts it, and queues the notices (sent only if `tx` commits) that wake the
  // replica holding the host's socket and tell waiters the replaced ones ended. Everything else
  // on the new row is known already, so only its `seq` comes back.
  const at = (date: Date) => sql`${date.toISOString()}::timestamptz`;
  const sameSite = input.siteId === null ? sql`site_id is null` : sql`site_id = ${input.siteId}`;
  const [row] = rowsOf<{ seq: string | number }>(
    await tx.execute(sql`with replaced as (
      update ${agentCommands} set state = 'superseded', finished_at = ${at(now)},
        error = ${`superseded by ${id}`}
      where ${supersedes ? sql`true` : sql`false`} and host_id = ${input.host.id} and ${sameSite}
        and kind = ${input.kind} and state = 'queued'
      returning id
    ), inserted as (
      insert into ${agentCommands} (id, host_id, tenant_id, site_id, kind, payload, body,
        signature, issued_by, created_at, not_before, expires_at)
      values (${id}, ${input.host.id}, ${input.host.tenantId}, ${input.siteId}, ${input.kind},
        ${JSON.stringify(payload)}::jsonb, ${body}, ${signature}, ${input.issuedBy}, ${at(now)},
        ${at(notBefore)}, ${at(expiresAt)})
      returning seq
    ), notices as (
      select ${commandDoneNoticeSql(sql`${input.host.id}::text`, sql`id`)} from replaced
      union all
      select pg_notify(${HOST_EVENTS_CHANNEL},
        ${JSON.stringify({ event: "commands", hostId: input.host.id })})
    )
    select seq, (select count(*) from notices) as notices from inserted`),
  );
  if (!row) throw new Error("agent command insert returned no row");
  return {
    id,
    seq: Number(row.seq),
    hostId: input.host.id,
    siteId: input.siteId,
    kind: input.kind,
    payload,
    state: "queued",
    createdAt: now.toISOString(),
    notBefore: notBefore.toISOString(),
    expiresAt: expiresAt.toISOString(),
    sentAt: null,
    startedAt: null,
    finishedAt: null,
    deliveries: 0,
    result: null,
    error: null,
    issuedBy: input.issuedBy,
  };
}

/**
 * Cancels every open command of a host (it is being revoked), running ones too: no agent will
 * report on them again. Returns how many were cancelled.
 */
export async function cancelOpenCommands(
  tx: Tx,
  hostId: string,
  now: Date,
  reason: string,
): Promise<number> {
  const cancelled = await tx.update(agentCommands)
    .set({ state: "cancelled", finishedAt: now, error: reason })
    .where(and(eq(agentCommands.hostId, hostId), OPEN_STATE_SQL))
    .returning({ id: agentCommands.id });
  await notifyCommandsDone(tx, hostId, cancelled.map((r) => r.id));
  return cancelled.length;
}

/**
 * Cancels a command a user no longer wants (`hosts.update`) on a live host of the caller's
 * tenant, while the agent has not taken it on: a running command cannot be called back, and an ended one has nothing left to cancel.
 */
export async function cancelCommand(
  deps: AppDeps,
  access: Access,
  audit: AuditContext,
  hostId: string,
  commandId: string,
): Promise<CommandView> {
  requirePermission(access, "hosts.update");
  const now = deps.now();
  return await deps.database.db.transaction(async (tx) => {
    // A revoked host's commands were all cancelled with it; it answers like a missing one.
    await getLiveHostOrThrow(tx, access.tenantId, hostId);
    const [row] = await tx.select().from(agentCommands)
      .where(and(eq(agentCommands.id, commandId), eq(agentCommands.hostId, hostId)))
      .for("update");
    if (!row) throw new AppError("not_found", "Command not found");
    if (row.state === "running") {
      throw new AppError(
        "conflict",
        `Cannot cancel command "${row.kind}": it is already running on the host`,
      );
    }
    if (row.state !== "queued" && row.state !== "sent") {
      throw new AppError(
        "conflict",
        `Cannot cancel command "${row.kind}": it already ended (${row.state})`,
      );
    }
    const [cancelled] = await tx.update(agentCommands)
      .set({ state: "cancelled", finishedAt: now, error: "cancelled by a user" })
      .where(eq(agentCommands.id, row.id))
      .returning();
    if (!cancelled) throw new Error("agent command update returned no row");
    await recordAudit(tx, { ...audit, tenantId: access.tenantId }, {
      action: "agent.command.cancel",
      resourceType: "agent_command",
      resourceId: row.id,
      outcome: "success",
      details: { hostId, kind: row.kind, siteId: row.siteId, state: row.state },
    });
    // The next command for the same site may now go out.
    await notifyHostEvent(tx, { event: "commands", hostId });
    await notifyCommandsDone(tx, hostId, [row.id]);
    return commandView(cancelled);
  });
}

/** A host's commands, newest first, `limit` at a time; page on with the last `seq` seen. */
export async function listHostCommands(
  db: Db,
  hostId: string,
  options: { limit: number; beforeSeq?: number },
): Promise<CommandView[]> {
  const rows = await db.select().from(agentCommands)
    .where(and(
      eq(agentCommands.hostId, hostId),
      options.beforeSeq === undefined ? undefined : lt(agentCommands.seq, options.beforeSeq),
    ))
    .orderBy(desc(agentCommands.seq))
    .limit(options.limit);
  return rows.map(commandView);
}

/** One command of a host; not_found when it does not exist or belongs to another host. */
export async function getHostCommand(
  db: Db,
  hostId: string,
  commandId: string,
): Promise<CommandView> {
  const [row] = await db.select().from(agentCommands)
    .where(and(eq(agentCommands.id, commandId), eq(agentCommands.hostId, hostId)));
  if (!row) throw new AppError("not_found", "Command not found");
  return commandView(row);
}
