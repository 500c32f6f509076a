// What a worker supervisor reports, and the timings and limits it works to.
import type { BackoffPolicy } from "../backoff.ts";

/** Where a site's worker stands. */
export type WorkerState = "starting" | "running" | "restarting" | "failed" | "stopped";

/** What the supervisor reports on every change. */
export interface WorkerStatus {
  state: WorkerState;
  /** The port Caddy routes the site to; a zero-downtime restart moves it. */
  port: number;
  pid: number | null;
  /** Why the last worker ended or would not start, with its last stderr lines. */
  lastError: string | null;
  /** Unexpected exits within the crash window. */
  recentCrashes: number;
  /** While `restarting`: the delay before the next attempt. */
  retryInMs: number | null;
}

/** The supervisor's timings and limits. */
export interface SupervisorPolicy {
  /** A new worker must answer its health check within this time. */
  startTimeoutMs: number;
  healthIntervalMs: number;
  backoff: BackoffPolicy;
  /** A worker up this long has its backoff reset. */
  stableAfterMs: number;
  crashLimit: number;
  crashWindowMs: number;
  /** Between SIGTERM and SIGKILL. */
  stopGraceMs: number;
  /** How long an old worker may take to finish its in-flight requests after a swap. */
  drainTimeoutMs: number;
  drainIntervalMs: number;
}

/** Restarts at 1 s, 2 s, 4 s … 60 s; five crashes in a minute mean `failed`. */
export const DEFAULT_SUPERVISOR_POLICY: SupervisorPolicy = {
  startTimeoutMs: 15_000,
  healthIntervalMs: 100,
  backoff: { baseMs: 1_000, capMs: 60_000 },
  stableAfterMs: 60_000,
  crashLimit: 5,
  crashWindowMs: 60_000,
  stopGraceMs: 10_000,
  drainTimeoutMs: 30_000,
  drainIntervalMs: 50,
};
