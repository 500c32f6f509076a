// Handing commands to a connected agent: which ones go out now, and what the socket saw happen.
// These run on every (re)connect and after every change, so the read is one prepared statement.
import { and, eq, inArray, sql } from "drizzle-orm";
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
  const hostId = sql.placeholder("hostId");
  const now = sql`${sql.placeholder("now")}::timestamptz`;
  return {
    expire: db.update(agentCommands)
      .set({ state: "expired", finishedAt: now, error: EXPIRED_ERROR })
      .where(
        and(
          eq(agentCommands.hostId, hostId),
          UNTAKEN_SQL,
          sql`${agentCommands.expiresAt} <= ${now}`,
        ),
      )
      .returning({ id: agentCommands.id })
      .prepare("caddis_commands_expire_host"),
    // The oldest open command per site (null: the host itself); at most one is in flight per key.
    heads: db.selectDistinctOn([agentCommands.siteId], {
      id: agentCommands.id,
      seq: agentCommands.seq,
      siteId: agentCommands.siteId,
      state: agentCommands.state,
      notBefore: agentCommands.notBefore,
      body: agentCommands.body,
      signature: agentCommands.signature,
    }).from(agentCommands)
      .where(and(eq(agentCommands.hostId, hostId), OPEN_STATE_SQL))
      .orderBy(agentCommands.siteId, agentCommands.seq)
      .prepare("caddis_commands_heads"),
    running: db.update(agentCommands)
      .set({ state: "running", startedAt: now })
      .where(and(
        eq(agentCommands.id, sql.placeholder("commandId")),
        eq(agentCommands.hostId, hostId),
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

/**
 * What to send a host now: first its overdue undelivered commands are marked expired, then for
 * each site (and the host itself) the oldest open command, unless it may not run yet. Sent and
 * running ones come again (delivery is at least once; the agent's journal keeps them from running
 * twice) and go first, as a reconnecting agent expects.
 */
export async function openCommandsForDelivery(
  db: Db,
  hostId: string,
  now: Date,
): Promise<DeliveryPlan> {
  const { expire, heads } = statementsFor(db);
  // ISO strings, not Dates: postgres-js does not encode Dates bound to placeholders.
  const at = now.toISOString();
  const expired = await expire.execute({ hostId, now: at });
  await notifyCommandsDone(db, hostId, expired.map((r) => r.id));
  const rows = await heads.execute({ hostId, now: at });
  const due = (row: { notBefore: Date }) => row.notBefore.getTime() <= now.getTime();
  const held = rows.filter((row) => !due(row)).map((row) => row.notBefore.getTime());
  const commands = rows
    .filter(due)
    .sort((a, b) => Number(a.state === "queued") - Number(b.state === "queued") || a.seq - b.seq)
    .map(({ id, siteId, body, signature }) => ({ id, siteId, body, signature }));
  return { commands, heldUntil: held.length > 0 ? new Date(Math.min(...held)) : null };
}

/** Records that these commands were written to the socket: queued ones become sent. */
export async function markCommandsSent(db: Db, ids: string[], now: Date): Promise<void> {
  if (ids.length === 0) return;
  const queued = sql`${agentCommands.state} = 'queued'`;
  await db.update(agentCommands).set({
    state: sql`case when ${queued} then 'sent' else ${agentCommands.state} end`,
    sentAt:
      sql`case when ${queued} then ${now.toISOString()}::timestamptz else ${agentCommands.sentAt} end`,
    deliveries: sql`${agentCommands.deliveries} + 1`,
  }).where(and(inArray(agentCommands.id, ids), OPEN_STATE_SQL));
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
