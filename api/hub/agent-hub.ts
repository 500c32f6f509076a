// The API side of the agent channel: every agent socket this replica holds, one per host; host
// events from every replica (commands, desired state, revocation) routed to the socket they
// concern; heartbeats spread evenly over their period (heartbeat-wheel.ts); and one sweep for the
// whole hub that closes silent sockets and writes last_seen_at in one batched statement.
import type { WSEvents } from "hono/ws";
import { CLOSE, TIMING } from "../../agent/protocol/version.ts";
import type { AppDeps } from "../deps.ts";
import { markDisconnected, releaseReplica, touchLastSeen } from "../services/agent-sessions.ts";
import {
  HOST_EVENTS_CHANNEL,
  type HostEvent,
  listenHostEvents,
  type MissedHostEvents,
  missedHostEvents,
} from "../services/host-events.ts";
import { AgentConnection } from "./agent-connection.ts";
import { REVOKED } from "./agent-hello.ts";
import { heartbeatWheel } from "./heartbeat-wheel.ts";
import type { DirectDelivery } from "./host-outbox.ts";
import type { HubLink, HubTiming } from "./hub-link.ts";

// RFC 6455: the server is going away (shutting down), or cannot take the socket yet.
const GOING_AWAY = 1001;
const TRY_AGAIN_LATER = 1013;

/** The agent sockets of this API process. */
export interface AgentHub {
  /** Listens for host events from every replica and starts the sweep; sockets are refused before. */
  start(): Promise<void>;
  /** Closes every socket, writes what is pending and marks this replica's hosts disconnected. */
  stop(): Promise<void>;
  /** Whether this replica holds an authenticated socket for the host. */
  isConnected(hostId: string): boolean;
  /**
   * Reserves a command about to be written for the host's socket here, so it goes out as soon as
   * its statement commits; undefined when this replica holds no ready socket for the host.
   */
  reserveDelivery(hostId: string, commandId: string): DirectDelivery | undefined;
  /** How many hosts have an authenticated socket here. */
  connectedCount(): number;
  /** The event handlers of one new socket; `ip` is the caller's address, for the audit. */
  accept(peer: { ip: string | undefined }): WSEvents;
}

/** Timings and limits; tests shorten them. Defaults are the protocol's TIMING. */
export interface AgentHubOptions extends Partial<HubTiming> {
  /** How often the sweep runs (silent sockets, last_seen_at). */
  sweepMs?: number;
  /** How often last_seen_at is written for the hosts heard from since. */
  lastSeenFlushMs?: number;
  /** A host whose last_seen_at was written this recently is not written again yet. */
  lastSeenResolutionMs?: number;
}

/** Builds the hub; `getDeps` is read lazily because the hub itself is one of the deps. */
export function createAgentHub(getDeps: () => AppDeps, options: AgentHubOptions = {}): AgentHub {
  const timing: HubTiming = {
    challengeTimeoutMs: options.challengeTimeoutMs ?? TIMING.challengeTimeoutMs,
    heartbeatMs: options.heartbeatMs ?? TIMING.heartbeatMs,
    peerTimeoutMs: options.peerTimeoutMs ?? TIMING.peerTimeoutMs,
    clockSkewMs: options.clockSkewMs ?? TIMING.clockSkewMs,
    maxBadFrames: options.maxBadFrames ?? 20,
  };
  const sweepMs = options.sweepMs ?? 1_000;
  // Small batches often: one statement rewriting a thousand wide host rows kept PostgreSQL busy
  // for 50–80 ms, long enough to show in the command round trip's p99. Heartbeats alone keep
  // last_seen_at within the peer timeout, so a host busy with commands is not written any oftener.
  const lastSeenFlushMs = options.lastSeenFlushMs ?? 1_000;
  const lastSeenResolutionMs = options.lastSeenResolutionMs ?? 10_000;
  const sockets = new Set<AgentConnection>();
  const byHost = new Map<string, AgentConnection>();
  const heartbeats = heartbeatWheel<AgentConnection>(timing.heartbeatMs);
  let heardFrom = new Set<string>();
  // When this replica last wrote each connected host's last_seen_at (clock()).
  const lastSeenWritten = new Map<string, number>();
  let running = false;
  let starting: Promise<void> | undefined;
  let sweepTimer: ReturnType<typeof setInterval> | undefined;
  let heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  let unlisten: (() => Promise<void>) | undefined;
  let lastFlushAt = 0;
  let flushing: Promise<void> = Promise.resolve();
  const clock = () => performance.now();

  const link: HubLink = {
    get deps() {
      return getDeps();
    },
    timing,
    clock,
    adopt(conn) {
      const hostId = conn.host?.id;
      if (!hostId) return;
      const previous = byHost.get(hostId);
      byHost.set(hostId, conn);
      heartbeats.add(conn);
      if (previous && previous !== conn) {
        previous.close(CLOSE.replaced, "replaced by a newer connection");
      }
    },
    release(conn) {
      sockets.delete(conn);
      heartbeats.remove(conn);
      const hostId = conn.host?.id;
      if (!hostId || byHost.get(hostId) !== conn) return;
      byHost.delete(hostId);
      lastSeenWritten.delete(hostId);
      // After the frames already received are handled, so a `hello` still being stored cannot
      // mark the host connected again behind this write.
      void conn.settled().then(async () => {
        if (!running || byHost.has(hostId)) return;
        const deps = getDeps();
        try {
          await markDisconnected(deps.database.db, hostId, deps.replicaId);
        } catch (err) {
          deps.log.error({ err, hostId }, "agent hub: could not mark a host disconnected");
        }
      });
    },
    heard(hostId) {
      heardFrom.add(hostId);
    },
  };

  const onEvent = (event: HostEvent) => {
    const conn = byHost.get(event.hostId);
    if (!conn) return;
    if (event.event === "revoked") {
      conn.close(REVOKED.close, REVOKED.reason, REVOKED.error);
    } else if (event.event === "commands") {
      conn.deliver({ commands: true, commandId: event.commandId });
    } else if (event.event === "desired_state") {
      conn.deliver({ desired: true });
    }
  };

  // The listening connection came back: whatever replicas sent meanwhile is lost, but the tables
  // keep what those events announced. So each socket held here gets what it missed, from one read
  // for all of them: closed if its host was revoked, its desired state if the revision moved past
  // the one it has, a delivery pass if commands are queued. The rest are left alone: a pass for
  // every one of 10,000 sockets would put tens of thousands of queries in front of every request.
  const resync = async () => {
    const held = [...byHost];
    if (!running || held.length === 0) return;
    const deps = getDeps();
    let missed: Map<string, MissedHostEvents> | undefined;
    try {
      missed = await missedHostEvents(deps.database.db, held.map(([hostId]) => hostId));
    } catch (err) {
      deps.log.error({ err }, "agent hub: could not read which host events were missed");
    }
    let caughtUp = 0;
    for (const [hostId, conn] of held) {
      const found = missed?.get(hostId);
      if (found?.revoked) {
        conn.close(REVOKED.close, REVOKED.reason, REVOKED.error);
        continue;
      }
      // Unread, everything is delivered again, as a reconnect would.
      const desired = !found || found.desiredRevision !== conn.desiredRevision();
      const commands = !found || found.queued;
      if (!desired && !commands) continue;
      conn.deliver({ desired, commands });
      caughtUp++;
    }
    deps.log.warn(
      { sockets: held.length, caughtUp },
      "agent hub: host events were re-subscribed; caught up from the tables",
    );
  };

  // Writes the hosts heard from since the last flush, but those written within the resolution
  // (a later frame, at the latest the next heartbeat, writes them); `all` when stopping.
  const flushLastSeen = (all = false) => {
    const now = clock();
    const due = (id: string) =>
      all || now - (lastSeenWritten.get(id) ?? -Infinity) >= lastSeenResolutionMs;
    const ids = [...heardFrom].filter(due);
    heardFrom = new Set();
    if (ids.length === 0) return flushing;
    const deps = getDeps();
    // Chained, so a slow write is never overtaken by the next one.
    flushing = flushing.then(async () => {
      await touchLastSeen(deps.database.relaxedDb, ids, deps.now());
      for (const id of ids) if (byHost.has(id)) lastSeenWritten.set(id, now);
    }).catch((err) =>
      deps.log.error({ err, hosts: ids.length }, "agent hub: could not write last_seen_at")
    );
    return flushing;
  };

  const sweep = () => {
    const now = clock();
    for (const conn of sockets) conn.tick(now);
    if (now - lastFlushAt >= lastSeenFlushMs) {
      lastFlushAt = now;
      void flushLastSeen();
    }
  };

  return {
    start() {
      starting ??= (async () => {
        const deps = getDeps();
        let subscribed = false;
        unlisten = await listenHostEvents(
          deps.database,
          HOST_EVENTS_CHANNEL,
          onEvent,
          (payload) => {
            deps.log.warn({ payload: payload.slice(0, 200) }, "agent hub: malformed host event");
          },
          () => {
            // The first subscription is this start; every later one follows a lost connection.
            if (subscribed) void resync();
            subscribed = true;
          },
        );
        lastFlushAt = clock();
        sweepTimer = setInterval(sweep, sweepMs);
        heartbeatTimer = setInterval(() => {
          for (const conn of heartbeats.turn()) conn.heartbeat();
        }, heartbeats.slotMs);
        running = true;
      })().catch((err) => {
        // A failed start (database unreachable) may be retried.
        starting = undefined;
        throw err;
      });
      return starting;
    },
    async stop() {
      await starting?.catch(() => {});
      if (!running) return;
      running = false;
      starting = undefined;
      clearInterval(sweepTimer);
      clearInterval(heartbeatTimer);
      await unlisten?.();
      const open = [...sockets];
      for (const conn of open) conn.close(GOING_AWAY, "API shutting down");
      await Promise.allSettled(open.map((conn) => conn.settled()));
      await flushLastSeen(true);
      const deps = getDeps();
      try {
        await releaseReplica(deps.database.db, deps.replicaId);
      } catch (err) {
        deps.log.error({ err }, "agent hub: could not mark this replica's hosts disconnected");
      }
    },
    isConnected: (hostId) => byHost.has(hostId),
    reserveDelivery: (hostId, commandId) => byHost.get(hostId)?.reserve(commandId),
    connectedCount: () => byHost.size,
    accept(peer) {
      const conn = new AgentConnection(link, peer.ip);
      return {
        onOpen(_event, ws) {
          if (!running) {
            getDeps().log.warn("agent hub: refused a socket because the hub is not running");
            ws.close(TRY_AGAIN_LATER, "not ready");
            return;
          }
          sockets.add(conn);
          conn.open(ws);
        },
        onMessage: (event) => conn.receive(event.data),
        onClose: () => conn.finish(),
      };
    },
  };
}
