import type { AppDeps } from "../deps.ts";
import type { AgentConnection } from "./agent-connection.ts";

/** Timings and limits of the hub, resolved from its options. */
export interface HubTiming {
  challengeTimeoutMs: number;
  heartbeatMs: number;
  peerTimeoutMs: number;
  clockSkewMs: number;
  /** Bad frames tolerated on one socket before it is closed. */
  maxBadFrames: number;
}

/** What a connection needs from its hub. */
export interface HubLink {
  deps: AppDeps;
  timing: HubTiming;
  /** Monotonic milliseconds, for silence and heartbeat deadlines. */
  clock(): number;
  /** The socket proved to be `conn.host`: it becomes that host's one socket here. */
  adopt(conn: AgentConnection): void;
  /** The socket closed. */
  release(conn: AgentConnection): void;
  /** A frame arrived from this host (batched into last_seen_at). */
  heard(hostId: string): void;
}

/** Where a socket stands in the handshake. */
export type ConnectionState =
  | "challenged"
  | "authenticating"
  | "authenticated"
  | "ready"
  | "closed";
