// What agents report about commands: a result for one they ran, or a refusal to run one. Both are
// audited as the agent's own actions; a report repeated after a reconnect changes nothing.
import { and, eq } from "drizzle-orm";
import { DiagnoseResult, TERMINAL_COMMAND_STATES } from "../../agent/protocol/commands.ts";
import type { AgentFrame } from "../../agent/protocol/frames.ts";
import type { Tx } from "../../db/client.ts";
import { agentCommands, hosts } from "../../db/schema.ts";
import type { AppDeps } from "../deps.ts";
import { notifyCommandsDone, OPEN_STATE_SQL } from "./agent-command-rows.ts";
import type { HostRef } from "./agent-commands.ts";
import { type AuditContext, recordAudit } from "./audit.ts";

/** The `command_result` frame. */
export type CommandResultFrame = Extract<AgentFrame, { type: "command_result" }>;
/** The `command_rejected` frame. */
export type CommandRejectedFrame = Extract<AgentFrame, { type: "command_rejected" }>;

const MAX_ERROR_CHARS = 8000;

function agentAudit(host: HostRef): AuditContext {
  return { actor: { kind: "agent", id: host.id }, tenantId: host.tenantId };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// A diagnose result refreshes what the host pages show; one that does not parse is the agent's
// failure, since the API learned nothing from it.
async function applyDiagnose(
  tx: Tx,
  hostId: string,
  result: Record<string, unknown> | null,
): Promise<string | undefined> {
  const parsed = DiagnoseResult.safeParse(result);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return `the agent's host.diagnose result is malformed at ${
      issue?.path.join(".") || "result"
    }: ${issue?.message ?? "rejected"}`;
  }
  await tx.update(hosts).set({ facts: parsed.data.facts, inventory: parsed.data.inventory })
    .where(eq(hosts.id, hostId));
  return undefined;
}

/**
 * Ends a command the agent ran: succeeded or failed, with its result or error, audited in the
 * same transaction. Ignored when the command is not this host's or has already ended, so a result
 * re-sent after a reconnect is recorded (and audited) once.
 */
export async function recordCommandResult(
  deps: AppDeps,
  host: HostRef,
  frame: CommandResultFrame,
): Promise<void> {
  // The API's clock, like every other timestamp on the row; the agent's may be skewed.
  const now = deps.now();
  await deps.database.db.transaction(async (tx) => {
    const [row] = await tx.select().from(agentCommands)
      .where(and(eq(agentCommands.id, frame.commandId), eq(agentCommands.hostId, host.id)))
      .for("update");
    if (!row || TERMINAL_COMMAND_STATES.includes(row.state)) return;
    const result = isPlainObject(frame.result) ? frame.result : null;
    let error = frame.error?.slice(0, MAX_ERROR_CHARS) ?? null;
    let outcome = frame.outcome;
    if (row.kind === "host.diagnose" && outcome === "succeeded") {
      const problem = await applyDiagnose(tx, host.id, result);
      if (problem) [outcome, error] = ["failed", problem];
    }
    await tx.update(agentCommands).set({ state: outcome, result, error, finishedAt: now })
      .where(eq(agentCommands.id, row.id));
    await recordAudit(tx, agentAudit(host), {
      action: `agent.command.${outcome}`,
      resourceType: "agent_command",
      resourceId: row.id,
      outcome: outcome === "succeeded" ? "success" : "failure",
      details: { kind: row.kind, siteId: row.siteId },
    });
    await notifyCommandsDone(tx, host.id, [row.id]);
  });
}

/**
 * Records an agent's refusal to run a command (bad signature, wrong host, expired…), always
 * audited since it may be an attack. One of this host's open commands ends: expired when the
 * agent found it too late, failed otherwise; an id the host does not own changes nothing.
 */
export async function recordCommandRejected(
  deps: AppDeps,
  host: HostRef,
  frame: CommandRejectedFrame,
): Promise<void> {
  const now = deps.now();
  await deps.database.db.transaction(async (tx) => {
    if (frame.commandId !== null) {
      const ended = await tx.update(agentCommands).set({
        state: frame.reason === "expired" ? "expired" : "failed",
        finishedAt: now,
        error: `rejected by the agent: ${frame.reason}`,
      }).where(and(
        eq(agentCommands.id, frame.commandId),
        eq(agentCommands.hostId, host.id),
        OPEN_STATE_SQL,
      )).returning({ id: agentCommands.id });
      await notifyCommandsDone(tx, host.id, ended.map((r) => r.id));
    }
    await recordAudit(tx, agentAudit(host), {
      action: "agent.command_rejected",
      resourceType: "agent_command",
      resourceId: frame.commandId ?? undefined,
      outcome: "denied",
      details: { reason: frame.reason, detail: frame.detail, commandId: frame.commandId },
    });
  });
}
