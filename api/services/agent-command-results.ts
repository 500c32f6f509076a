// What agents report about commands: a result for one they ran, or a refusal to run one. Failures
// and refusals are audited as the agent's own actions; a report repeated after a reconnect
// changes nothing.
import { and, eq, sql, TransactionRollbackError } from "drizzle-orm";
import { type CommandState, DiagnoseResult } from "../../agent/protocol/commands.ts";
import type { AgentFrame } from "../../agent/protocol/frames.ts";
import { rowsOf } from "../../db/migrate.ts";
import { agentCommands, hosts } from "../../db/schema.ts";
import type { AppDeps } from "../deps.ts";
import { notifyCommandsDone, OPEN_STATE_SQL } from "./agent-command-rows.ts";
import { commandDoneNoticeSql } from "./host-events.ts";
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
// failure, since the API learned nothing from it. Checked before the row is read, so the update
// is one statement; it applies only when the row turns out to be a `host.diagnose`.
function checkDiagnose(result: Record<string, unknown> | null) {
  const parsed = DiagnoseResult.safeParse(result);
  if (parsed.success) {
    return { problem: null, facts: parsed.data.facts, inventory: parsed.data.inventory };
  }
  const issue = parsed.error.issues[0];
  const problem = `the agent's host.diagnose result is malformed at ${
    issue?.path.join(".") || "result"
  }: ${issue?.message ?? "rejected"}`;
  return { problem, facts: null, inventory: null };
}
/** What storing a result found: whether the host has other open commands to deliver next. */
export interface ResultStored {
  othersOpen: boolean;
}

interface EndedRow {
  id: string;
  kind: string;
  site_id: string | null;
  state: CommandState;
  others_open: boolean;
}

const json = (value: unknown) => (value === null ? null : JSON.stringify(value));

// One statement ends the command, stores a diagnose's facts and announces the end; it sets the
// start time too when the acknowledgement wrote none (its result came right behind it). Its
// snapshot is taken before the update, so this command still counts as open in it. The notice CTE
// runs because the final select reads it, and goes out only if the statement commits. With
// `successOnly`, a host.diagnose whose result does not parse is left alone (it fails, audited).
function endStatement(
  host: HostRef,
  frame: CommandResultFrame,
  now: string,
  diagnose: ReturnType<typeof checkDiagnose> | undefined,
  successOnly: boolean,
) {
  const result = isPlainObject(frame.result) ? frame.result : null;
  const error = frame.error?.slice(0, MAX_ERROR_CHARS) ?? null;
  const problem = diagnose?.problem ?? null;
  const malformed = sql`kind = 'host.diagnose' and ${problem}::text is not null`;
  return sql`with ended as (
    update ${agentCommands} set
      state = case when ${malformed} then 'failed' else ${frame.outcome} end,
      error = case when ${malformed} then ${problem} else ${error} end,
      result = ${json(result)}::jsonb,
      started_at = coalesce(started_at, ${now}::timestamptz),
      finished_at = ${now}::timestamptz
    where id = ${frame.commandId} and host_id = ${host.id} and ${OPEN_STATE_SQL}
      ${successOnly ? sql`and not (${malformed})` : sql``}
    returning id, kind, site_id, state
  ), facts as (
    update ${hosts} set facts = ${json(diagnose?.facts ?? null)}::jsonb,
      inventory = ${json(diagnose?.inventory ?? null)}::jsonb
    from ended
    where ${hosts.id} = ${host.id} and ended.kind = 'host.diagnose' and ended.state = 'succeeded'
  ), announced as (
    select ${commandDoneNoticeSql(sql`${host.id}::text`, sql`id`)} from ended
  )
  select id, kind, site_id, state, exists (
    select 1 from ${agentCommands}
    where host_id = ${host.id} and ${OPEN_STATE_SQL} and id <> ${frame.commandId}
  ) as others_open, (select count(*) from announced) as announced
  from ended`;
}

/**
 * Ends a command the agent ran: succeeded or failed, with its result or error, and a diagnose's
 * facts. A failure is audited in the same transaction. A success is not (the row keeps its
 * state, result and times, and the action that issued it is in the audit chain already), so it
 * is one statement with no transaction around it. Ignored when the command is not this host's
 * or has already ended, so a result re-sent after a reconnect is recorded (and audited) once.
 */
export async function recordCommandResult(
  deps: AppDeps,
  host: HostRef,
  frame: CommandResultFrame,
): Promise<ResultStored> {
  // The API's clock, like every other timestamp on the row; the agent's may be skewed.
  const now = deps.now().toISOString();
  const diagnose = frame.outcome === "succeeded"
    ? checkDiagnose(isPlainObject(frame.result) ? frame.result : null)
    : undefined;
  if (frame.outcome === "succeeded") {
    // Lost in a crash, a success comes back: the agent answers the re-delivered command from its
    // journal. So it does not wait for the disk.
    const relaxed = deps.database.relaxedDb;
    const ended = await relaxed.execute(endStatement(host, frame, now, diagnose, true));
    const [row] = rowsOf<EndedRow>(ended);
    if (row) return { othersOpen: row.others_open };
    // Nothing recorded: the command is another host's, it had ended already, or it is a
    // host.diagnose whose result does not parse, which the audited path below fails.
    if (diagnose?.problem === null) return { othersOpen: true };
  }
  try {
    return await deps.database.db.transaction(async (tx) => {
      const ended = await tx.execute(endStatement(host, frame, now, diagnose, false));
      const [row] = rowsOf<EndedRow>(ended);
      if (!row) return tx.rollback();
      if (row.state !== "succeeded") {
        await recordAudit(tx, agentAudit(host), {
          action: `agent.command.${row.state}`,
          resourceType: "agent_command",
          resourceId: row.id,
          outcome: "failure",
          details: { kind: row.kind, siteId: row.site_id },
        });
      }
      return { othersOpen: row.others_open };
    });
  } catch (err) {
    // Nothing recorded: the command is another host's, or it had ended already.
    if (err instanceof TransactionRollbackError) return { othersOpen: true };
    throw err;
  }
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
