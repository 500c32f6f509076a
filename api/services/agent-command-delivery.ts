// Handing commands to a connected agent: which ones go out now, and what the socket saw happen.
// These run for every command on its way out, so each is one statement.
import { and, eq, sql } from "drizzle-orm";
import { rowsOf } from "../../db/migrate.ts";
import type { Db } from "../../db/client.ts";
import { agentCommands } from "../../db/schema.ts";
import type { AppDeps } from "../deps.ts";
import { notifyCommandsDone, OPEN_STATE_SQL } from "./agent-command-rows.ts";
import { notifyHostEvent } from "./host-events.ts";

/** A command ready for a `command` frame: the signed body exactly as stored, and its signature. */
export interface DeliverableCommand {
  id: string;
  siteId: string | null;
  body: string;
  signature: string;
}

const EXPIRED_ERROR = "expired before the agent ran it";
// Not yet taken on by the agent. Only these expire: a running command was accepted and will report.
const UNTAKEN_SQL = sql`${agentCommands.state} in ('queued', 'sent')`;

// Prepared once per database: building drizzle queries costs more than running them (§12).
const statements = new WeakMap<Db, ReturnType<typeof prepare>>();

function prepare(db: Db) {
  return {
    running: db.update(agentCommands)
      .set({ state: "running", startedAt: sql`${sql.placeholder("now")}::timestamptz` })
      .where(and(
        eq(agentCommands.id, sql.placeholder("commandId")),
        eq(agentCommands.hostId, sql.placeholder("hostId")),
        UNTAKEN_SQL,
      ))
      .prepare("caddis_commands_running"),
  };
}

function statementsFor(db: Db) {
  const found = statements.get(db);
  if (found) return found;
  const made = prepare(db);
  statements.set(db, made);
  return made;
}

/** The commands to send a host now, and when a head held back by its not-before may go. */
export interface DeliveryPlan {
  commands: DeliverableCommand[];
  /** The earliest not-before of a head that may not run yet; null when none is held back. */
  heldUntil: Date | null;
}

interface PlanRow {
  id: string;
  seq: string | number | null;
  site_id: string | null;
  state: string;
  not_before: string | Date | null;
  body: string | null;
  signature: string | null;
}

// One statement, since it runs for every command on its way out: expire the host's overdue
// undelivered commands, pick the oldest open one per site (null: the host itself) among the
// rest, and count a delivery of each head that may run now and was not already written to this
// socket (queued ones become sent). CTEs share one snapshot, so the heads leave out what this
// statement expires. The expired rows come back too, to announce that they ended.
function planStatement(hostId: string, now: string, written: string) {
  const at = sql`${now}::timestamptz`;
  return sql`with expired as (
    update ${agentCommands} set state = 'expired', finished_at = ${at}, error = ${EXPIRED_ERROR}
    where host_id = ${hostId} and ${UNTAKEN_SQL} and expires_at <= ${at}
    returning id
  ), heads as (
    select distinct on (site_id) id, seq, site_id, state, not_before, body, signature
    from ${agentCommands}
    where host_id = ${hostId} and ${OPEN_STATE_SQL} and id not in (select id from expired)
    order by site_id, seq
  ), marked as (
    update ${agentCommands} c set
      state = case when c.state = 'queued' then 'sent' else c.state end,
      sent_at = case when c.state = 'queued' then ${at} else c.sent_at end,
      deliveries = c.deliveries + 1
    from heads
    where c.id = heads.id and heads.not_before <= ${at}
      and c.state in ('queued', 'sent', 'running')
      and c.id <> all(string_to_array(${written}, ','))
    returning c.id
  )
  select id, seq, site_id, state, not_before, body, signature from heads
  union all
  select id, null, null, 'expired', null, null, null from expired`;
}

/**
 * Takes what to send a host now, in one statement: first its overdue undelivered commands are
 * marked expired, then for each site (and the host itself) the oldest open command is picked,
 * unless it may not run yet. Sent and running ones come again (delivery is at least once; the
 * agent's journal keeps them from running twice) and go first, as a reconnecting agent expects.
 * Each one returned counts as delivered (queued ones become sent) except those in `written`,
 * which this socket already carries: the caller writes them all, and if its socket closed
 * meanwhile, the agent's reconnect sends every open command again.
 */
export async function takeCommandsForDelivery(
  db: Db,
  hostId: string,
  now: Date,
  written: ReadonlySet<string> = new Set(),
): Promise<DeliveryPlan> {
  // Ids hold no commas (prefixed random text), so one text parameter carries the list.
  const plan = await db.execute(planStatement(hostId, now.toISOString(), [...written].join(",")));
  const rows = rowsOf<PlanRow>(plan);
  const expired = rows.filter((row) => row.state === "expired").map((row) => row.id);
  await notifyCommandsDone(db, hostId, expired);
  const heads = rows.filter((row) => row.state !== "expired").map((row) => ({
    ...row,
    seq: Number(row.seq),
    notBefore: new Date(row.not_before ?? 0).getTime(),
  }));
  const due = (row: { notBefore: number }) => row.notBefore <= now.getTime();
  const held = heads.filter((row) => !due(row)).map((row) => row.notBefore);
  const commands = heads
    .filter(due)
    .sort((a, b) => Number(a.state === "queued") - Number(b.state === "queued") || a.seq - b.seq)
    .map((row) => ({
      id: row.id,
      siteId: row.site_id,
      body: row.body ?? "",
      signature: row.signature ?? "",
    }));
  return { commands, heldUntil: held.length > 0 ? new Date(Math.min(...held)) : null };
}

/** The agent acknowledged the command (journaled it): it runs now. Ended commands stay ended. */
export async function markCommandRunning(
  db: Db,
  hostId: string,
  commandId: string,
  now: Date,
): Promise<void> {
  await statementsFor(db).running.execute({ hostId, commandId, now: now.toISOString() });
}

/**
 * Marks every overdue undelivered command of every host expired, so commands for hosts that stay
 * offline still end; wakes the hosts' sockets, since the next command per site may now go out.
 * Returns how many expired.
 */
export async function expireOverdueCommands(deps: AppDeps): Promise<number> {
  const now = deps.now();
  return await deps.database.db.transaction(async (tx) => {
    const expired = await tx.update(agentCommands)
      .set({ state: "expired", finishedAt: now, error: EXPIRED_ERROR })
      .where(and(UNTAKEN_SQL, sql`${agentCommands.expiresAt} <= ${now.toISOString()}::timestamptz`))
      .returning({ id: agentCommands.id, hostId: agentCommands.hostId });
    for (const row of expired) await notifyCommandsDone(tx, row.hostId, [row.id]);
    for (const hostId of new Set(expired.map((row) => row.hostId))) {
      await notifyHostEvent(tx, { event: "commands", hostId });
    }
    return expired.length;
  });
}
