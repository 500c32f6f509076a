// The messages between the agent benchmark and its swarm processes (Bun IPC, JSON). Every order
// carries a sequence number that its one reply repeats; `answered` reports come unasked.

/** Orchestrator → swarm. */
export type SwarmOrder =
  | {
    seq: number;
    type: "agents";
    wsUrl: string;
    /** The API's raw public key: commands must verify against it, as a real agent pins it. */
    apiPublicKey: string;
    /** PKCS#8 base64url, shared by every bench host; sent over IPC, never on argv. */
    privateKey: string;
    hostIds: string[];
    /** Handshakes in flight at once. */
    concurrency: number;
  }
  | { seq: number; type: "plain"; wsUrl: string; count: number; concurrency: number }
  | {
    seq: number;
    type: "watch";
    on: boolean;
    /** Answers are reported in batches this often, or each at once with 0. */
    batchMs: number;
  }
  | { seq: number; type: "count" };

/** Swarm → orchestrator. */
export type SwarmReport =
  | { seq: 0; type: "ready" }
  | { seq: number; type: "opened"; ok: number; failed: number; firstError: string | null }
  | { seq: number; type: "count"; open: number; dropped: number; unexpected: string[] }
  | { seq: number; type: "done" }
  | { seq: number; type: "failed"; error: string }
  | { seq: 0; type: "answered"; answers: Answer[] };

/** A command a simulated agent answered. */
export interface Answer {
  commandId: string;
  /** Wall-clock milliseconds (fractional) when the command frame arrived and when answered. */
  receivedAt: number;
  answeredAt: number;
}

/** Wall-clock milliseconds with sub-millisecond precision, comparable across local processes. */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}
