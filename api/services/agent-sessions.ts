// What the agent hub writes about live agent sockets: who may connect, what an agent said in
// `hello` and `observed_state`, which replica holds its socket, and when it was last heard from.
import { and, eq, isNotNull, isNull, sql } from "drizzle-orm";
import type { ObservedState } from "../../agent/protocol/desired-state.ts";
import type { AgentFrame } from "../../agent/protocol/frames.ts";
import type { Db } from "../../db/client.ts";
import { hosts } from "../../db/schema.ts";
import { recordAuditNow } from "./audit.ts";

/** What checking a challenge answer needs of the host it claims to be. */
export interface HostCredentials {
  id: string;
  tenantId: string;
  name: string;
  /** Raw Ed25519 public key, base64url; null until enrolled. */
  publicKey: string | null;
  revokedAt: Date | null;
}

/** The `hello` frame an agent sends once authenticated. */
export type HelloFrame = Extract<AgentFrame, { type: "hello" }>;

/** The host row a challenge answer claims, or undefined when no such host exists. */
export async function findHostCredentials(
  db: Db,
  hostId: string,
): Promise<HostCredentials | undefined> {
  const [host] = await db.select({
    id: hosts.id,
    tenantId: hosts.tenantId,
    name: hosts.name,
    publicKey: hosts.publicKey,
    revokedAt: hosts.revokedAt,
  }).from(hosts).where(eq(hosts.id, hostId));
  return host;
}

/**
 * Stores what the agent said in `hello` and marks the host connected to this replica. Returns
 * false when the host was revoked since its challenge answer was checked: the socket must close.
 *
 * The row is locked `for update` first, which a command being written for the host (it holds the
 * row `for key share`) makes wait. A command that the previous replica wrote as sent straight to
 * its socket, which has just closed, is therefore committed before this replica's first
 * delivery pass reads the open commands, and that pass sends it. Written after the hello, the
 * command sees this replica holds the socket and is queued and announced instead.
 */
export async function recordHello(
  db: Db,
  hostId: string,
  hello: HelloFrame,
  replicaId: string,
  now: Date,
): Promise<boolean> {
  const updated = await db.update(hosts).set({
    agentVersion: hello.agentVersion,
    protocolVersion: hello.protocolVersion,
    mode: hello.mode,
    modeReason: hello.modeReason,
    facts: hello.facts,
    web: hello.web ?? null,
    connectedReplica: replicaId,
    connectedAt: now,
    lastSeenAt: now,
  }).where(and(
    eq(hosts.id, hostId),
    isNull(hosts.revokedAt),
    isNotNull(hosts.publicKey),
    sql`${hosts.id} in (select id from ${hosts} where id = ${hostId} for update)`,
  )).returning({ id: hosts.id });
  return updated.length > 0;
}

/** Stores an agent's report on the revision it applied, with its facts and tool inventory. */
export async function recordObservedState(
  db: Db,
  hostId: string,
  observed: ObservedState,
): Promise<void> {
  await db.update(hosts).set({
    observedRevision: observed.revision,
    observed,
    observedAt: new Date(observed.observedAt),
    facts: observed.facts,
    inventory: observed.inventory,
  }).where(eq(hosts.id, hostId));
}

/**
 * Marks the host disconnected, unless another replica has taken its socket meanwhile (the agent
 * reconnected elsewhere before this socket was noticed dead).
 */
export async function markDisconnected(db: Db, hostId: string, replicaId: string): Promise<void> {
  await db.update(hosts).set({ connectedReplica: null })
    .where(and(eq(hosts.id, hostId), eq(hosts.connectedReplica, replicaId)));
}

/** Marks every host this replica holds disconnected, when it shuts down. */
export async function releaseReplica(db: Db, replicaId: string): Promise<void> {
  await db.update(hosts).set({ connectedReplica: null })
    .where(eq(hosts.connectedReplica, replicaId));
}

/**
 * Records that these hosts were heard from, in one statement however many there are: the hub
 * batches them, so thousands of agents' heartbeats cost one write per interval.
 */
export async function touchLastSeen(db: Db, hostIds: string[], now: Date): Promise<void> {
  if (hostIds.length === 0) return;
  // One JSON parameter rather than one bound parameter per id.
  await db.update(hosts).set({ lastSeenAt: now }).where(
    sql`${hosts.id} = any(select jsonb_array_elements_text(${JSON.stringify(hostIds)}::jsonb))`,
  );
}

/**
 * Audits a refused challenge answer: the host id it claimed (under that host's tenant when the
 * host exists) and why. The signature is never recorded.
 */
export async function recordAuthFailure(
  db: Db,
  attempt: { claimedHostId: string; tenantId: string | undefined; ip: string | undefined },
  reason: string,
): Promise<void> {
  await recordAuditNow(db, {
    actor: { kind: "anonymous" },
    tenantId: attempt.tenantId,
    ip: attempt.ip,
  }, {
    action: "agent.auth_failed",
    resourceType: "host",
    resourceId: attempt.claimedHostId,
    outcome: "failure",
    details: { claimedHostId: attempt.claimedHostId, reason },
  });
}
