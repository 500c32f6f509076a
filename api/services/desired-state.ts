// What a host should run, built whole from the database each time it is sent, with the revision
// that tells the agent whether anything changed since it last applied.
import { eq, sql } from "drizzle-orm";
import type { DesiredState } from "../../agent/protocol/desired-state.ts";
import type { Db, Tx } from "../../db/client.ts";
import { hosts } from "../../db/schema.ts";
import { AppError } from "../errors.ts";
import { notifyHostEvent } from "./host-events.ts";

/** The host's full desired state at its current revision; sites join with the sites feature. */
export async function desiredStateFor(db: Db | Tx, hostId: string): Promise<DesiredState> {
  const [host] = await db.select({ revision: hosts.desiredRevision }).from(hosts)
    .where(eq(hosts.id, hostId));
  if (!host) throw new AppError("not_found", "Host not found");
  return { hostId, revision: host.revision, sites: [] };
}

/**
 * Raises the host's desired revision after a change to what it should run, in the change's own
 * transaction, and tells the replica holding its socket to send the new state once it commits.
 * Returns the new revision.
 */
export async function bumpDesiredRevision(tx: Tx, hostId: string): Promise<number> {
  const [row] = await tx.update(hosts)
    .set({ desiredRevision: sql`${hosts.desiredRevision} + 1` })
    .where(eq(hosts.id, hostId))
    .returning({ revision: hosts.desiredRevision });
  if (!row) throw new AppError("not_found", "Host not found");
  await notifyHostEvent(tx, { event: "desired_state", hostId });
  return row.revision;
}
