// Shared by the command services: the row-to-view mapping, the open-state filter, and the
// notification that commands ended.
import { sql } from "drizzle-orm";
import type { Db, Tx } from "../../db/client.ts";
import { agentCommands } from "../../db/schema.ts";
import type { CommandView } from "./agent-commands.ts";
import { notifyHostEvent } from "./host-events.ts";

/** Open states as SQL, written literally so the partial index agent_commands_open_idx applies. */
export const OPEN_STATE_SQL = sql`${agentCommands.state} in ('queued', 'sent', 'running')`;

/** A stored command row. */
export type CommandRow = typeof agentCommands.$inferSelect;

/** The JSON view of a row. */
export function commandView(row: CommandRow): CommandView {
  return {
    id: row.id,
    seq: row.seq,
    hostId: row.hostId,
    siteId: row.siteId,
    kind: row.kind,
    payload: row.payload,
    state: row.state,
    createdAt: row.createdAt.toISOString(),
    notBefore: row.notBefore.toISOString(),
    expiresAt: row.expiresAt.toISOString(),
    sentAt: row.sentAt?.toISOString() ?? null,
    startedAt: row.startedAt?.toISOString() ?? null,
    finishedAt: row.finishedAt?.toISOString() ?? null,
    deliveries: row.deliveries,
    result: row.result,
    error: row.error,
    issuedBy: row.issuedBy,
  };
}

/** Tells every replica that these commands reached a terminal state (sent when `tx` commits). */
export async function notifyCommandsDone(tx: Tx | Db, hostId: string, ids: string[]) {
  for (const commandId of ids) {
    await notifyHostEvent(tx, { event: "command_done", hostId, commandId });
  }
}
