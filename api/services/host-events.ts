// Host events travel through PostgreSQL NOTIFY, so every API replica hears them: the one holding
// a host's socket delivers commands and desired state, and waiters anywhere learn a command ended.
// Sent inside the transaction that caused them, they are delivered only if it commits. Endings go
// on a channel of their own: every command ends, and a replica holding sockets, which waits for
// none of them, should not wake and parse a notice for each.
import { type SQL, sql } from "drizzle-orm";
import { z } from "zod";
import type { Database, Db, Tx } from "../../db/client.ts";
import { agentCommands, hosts } from "../../db/schema.ts";

/** The channel of what the replica holding a host's socket acts on; statements name it. */
export const HOST_EVENTS_CHANNEL = "caddis_host_events";
/** The channel of `command_done`, for waiters. */
export const COMMAND_DONE_CHANNEL = "caddis_command_done";

const HostEvent = z.discriminatedUnion("event", [
  /** New or changed commands are waiting for the host; `commandId` names a new one. */
  z.object({ event: z.literal("commands"), hostId: z.string(), commandId: z.string().optional() }),
  /** The host's desired state changed (a new revision). */
  z.object({ event: z.literal("desired_state"), hostId: z.string() }),
  /** The host was revoked: close its socket now. */
  z.object({ event: z.literal("revoked"), hostId: z.string() }),
  /** A command reached a terminal state. */
  z.object({ event: z.literal("command_done"), hostId: z.string(), commandId: z.string() }),
]);
export type HostEvent = z.infer<typeof HostEvent>;

/** Queues a host event; it is delivered to every listener of its channel when `tx` commits. */
export async function notifyHostEvent(tx: Tx | Db, event: HostEvent): Promise<void> {
  const channel = event.event === "command_done" ? COMMAND_DONE_CHANNEL : HOST_EVENTS_CHANNEL;
  await tx.execute(sql`select pg_notify(${channel}, ${JSON.stringify(event)})`);
}

/**
 * The `command_done` notice as an SQL expression over a row's columns, for statements that end
 * commands and announce it in the same step (no second round trip, and no notice if it fails).
 */
export function commandDoneNoticeSql(hostId: SQL, commandId: SQL): SQL {
  return sql`pg_notify(${COMMAND_DONE_CHANNEL}, json_build_object(
    'event', 'command_done', 'hostId', ${hostId}, 'commandId', ${commandId})::text)`;
}

/**
 * Calls `onEvent` for every host event any replica sends on `channel`; resolves once listening,
 * with a function that stops it. A payload that does not parse goes to `onMalformed` and is
 * otherwise ignored. `onListen` runs on every (re)subscription: after the first, events sent while
 * the listening connection was down are lost, so the caller must catch up from the tables.
 */
export async function listenHostEvents(
  database: Database,
  channel: typeof HOST_EVENTS_CHANNEL | typeof COMMAND_DONE_CHANNEL,
  onEvent: (event: HostEvent) => void,
  onMalformed: (payload: string) => void,
  onListen?: () => void,
): Promise<() => Promise<void>> {
  return await database.listen(channel, (payload) => {
    let value: unknown;
    try {
      value = JSON.parse(payload);
    } catch {
      return onMalformed(payload);
    }
    const parsed = HostEvent.safeParse(value);
    if (parsed.success) onEvent(parsed.data);
    else onMalformed(payload);
  }, onListen);
}

/** What a replica that missed host events finds in the tables about one host whose socket it holds. */
export interface MissedHostEvents {
  revoked: boolean;
  desiredRevision: number;
  /** Commands wait in the queue (delivered ones are this socket's already). */
  queued: boolean;
}

// Hosts per statement: ten thousand sockets catch up in ten queries.
const CATCH_UP_BATCH = 1_000;

/**
 * What the events missed while the LISTEN connection was down would have said about each of
 * `hostIds`: revoked, its desired revision now, and whether commands are queued for it. A host no
 * longer in the table counts as revoked. The events themselves are gone; the tables keep what
 * they announced, so a replica asks once for all its sockets instead of a delivery pass each.
 */
export async function missedHostEvents(
  db: Db,
  hostIds: string[],
): Promise<Map<string, MissedHostEvents>> {
  const found = new Map<string, MissedHostEvents>();
  for (let from = 0; from < hostIds.length; from += CATCH_UP_BATCH) {
    // One JSON parameter rather than one bound parameter per id (see touchLastSeen).
    const ids = JSON.stringify(hostIds.slice(from, from + CATCH_UP_BATCH));
    const rows = await db.select({
      id: hosts.id,
      revoked: sql<boolean>`${hosts.revokedAt} is not null`,
      desiredRevision: hosts.desiredRevision,
      // Spelt out: drizzle leaves columns of a one-table select unqualified, and an unqualified
      // `id` in the subquery would be the command's.
      queued: sql<boolean>`exists (select 1 from ${agentCommands} queued
        where queued.host_id = ${hosts}.id and queued.state = 'queued')`,
    }).from(hosts).where(sql`${hosts.id} = any(select jsonb_array_elements_text(${ids}::jsonb))`);
    for (const { id, ...missed } of rows) found.set(id, missed);
  }
  for (const id of hostIds) {
    if (!found.has(id)) found.set(id, { revoked: true, desiredRevision: 0, queued: false });
  }
  return found;
}
