// The durable command outbox: commands are inserted and signed in the transaction of the change
// that causes them, listed for the host pages, and cancelled by users while still undelivered.
// The statement that writes them lives in agent-command-outbox.ts, delivery to agents in
// agent-command-delivery.ts, their answers in agent-command-results.ts.
import { and, desc, eq, lt } from "drizzle-orm";
import type { CommandState } from "../../agent/protocol/commands.ts";
import type { Db, Tx } from "../../db/client.ts";
import { agentCommands } from "../../db/schema.ts";
import { type Access, requirePermission } from "../auth/route-access.ts";
import type { AppDeps } from "../deps.ts";
import { AppError } from "../errors.ts";
import { writeCommand } from "./agent-command-outbox.ts";
import { newCommandView, signCommand } from "./agent-command-signing.ts";
import { commandView, notifyCommandsDone, OPEN_STATE_SQL } from "./agent-command-rows.ts";
import { type AuditContext, recordAudit } from "./audit.ts";
import { getLiveHostOrThrow } from "./host-view.ts";
import { notifyHostEvent } from "./host-events.ts";

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
  const command = await signCommand(deps, input.host.id, input);
  const { seq } = await writeCommand(tx, command, { known: input.host });
  return newCommandView(command, seq);
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
