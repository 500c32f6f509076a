// Keeps one site's worker alive. A worker counts as up once it answers HTTP; an unexpected exit
// is restarted after a capped exponential backoff; too many crashes in a short window mark the
// site `failed` and stop the retries. `restart` swaps workers without dropping a request: the
// new one starts on another port, Caddy is switched to it, and only then is the old one drained
// and stopped. Process starts, health checks, the Caddy switch and time are all injected.
import type { ProcessExit, ProcessHandle } from "../exec.ts";
import { type Clock, systemClock } from "./clock.ts";
import { createSerial } from "./serial.ts";
import {
  DEFAULT_SUPERVISOR_POLICY,
  type SupervisorPolicy,
  type WorkerState,
  type WorkerStatus,
} from "./supervisor-policy.ts";

/** What a supervisor needs from the world. */
export interface SupervisorDeps {
  /** The port Caddy routes the site to now. */
  port: number;
  /** Starts the site's worker listening on 127.0.0.1:`port`; throws when it cannot start. */
  spawn(port: number): Promise<ProcessHandle>;
  healthCheck(port: number): Promise<boolean>;
  /** Requests the worker on `port` is still serving. */
  inFlight(port: number): Promise<number>;
  /** A free port for the second worker of a zero-downtime restart. */
  sparePort(): Promise<number>;
  /** Points Caddy at `port`; resolves once requests go there. */
  switchUpstream(port: number): Promise<void>;
  /** Stops sending new requests to the old worker's `port` before it drains; never throws. */
  releaseUpstream?(port: number): Promise<void>;
  onStatus(status: WorkerStatus): void;
  clock?: Clock;
  policy?: Partial<SupervisorPolicy>;
}

/** One site's supervised worker. */
export interface WorkerSupervisor {
  /** Starts supervising; resolves once the first worker is running or its first attempt failed. */
  start(): Promise<void>;
  /** Stops the worker and all retries; a stop is never counted as a crash. */
  stop(): Promise<void>;
  /**
   * Replaces the worker without dropping requests, on `port` or a spare one; throws, leaving the
   * old worker serving, when the new one does not come up.
   */
  restart(port?: number): Promise<void>;
  status(): WorkerStatus;
}

interface Live {
  proc: ProcessHandle;
  port: number;
  upAt: number;
}

/** A supervisor for one site, stopped until `start`. */
export function createWorkerSupervisor(deps: SupervisorDeps): WorkerSupervisor {
  const policy = { ...DEFAULT_SUPERVISOR_POLICY, ...deps.policy };
  const clock = deps.clock ?? systemClock;
  // Launches and swaps never overlap, so two workers are never started for the same slot.
  const serial = createSerial();
  let port = deps.port;
  let state: WorkerState = "stopped";
  let live: Live | null = null;
  let lastError: string | null = null;
  let crashes: number[] = [];
  let attempt = 0;
  let retryInMs: number | null = null;
  // The current supervision run; aborted by stop() and ended by `failed`.
  let run: { abort: AbortController; firstOutcome: Promise<void> } | null = null;
  // Bumped by stop(), so a restart already under way does not revive a stopped site.
  let stops = 0;

  const status = (): WorkerStatus => ({
    state,
    port,
    pid: live?.proc.pid ?? null,
    lastError,
    recentCrashes: crashes.length,
    retryInMs,
  });
  const report = (next: WorkerState) => {
    state = next;
    deps.onStatus(status());
  };

  /** Starts a worker on `target` and waits for it to answer; returns it, or why it did not. */
  async function launch(target: number, signal?: AbortSignal): Promise<Live | string> {
    let proc: ProcessHandle;
    try {
      proc = await deps.spawn(target);
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
    let exit: ProcessExit | null = null;
    void proc.exited.then((how) => exit = how);
    const deadline = clock.now() + policy.startTimeoutMs;
    for (;;) {
      const healthy = await deps.healthCheck(target);
      if (exit) return describeEnd(`exited ${describeExit(exit)} before answering`, proc);
      if (signal?.aborted) break;
      if (healthy) return { proc, port: target, upAt: clock.now() };
      if (clock.now() >= deadline) {
        await proc.stop(policy.stopGraceMs);
        return describeEnd(
          `did not answer on port ${target} within ${policy.startTimeoutMs} ms`,
          proc,
        );
      }
      await clock.sleep(policy.healthIntervalMs, signal);
    }
    await proc.stop(policy.stopGraceMs);
    return "stopped while starting";
  }

  /** Counts a crash; true when that makes the site `failed`, else waits out the backoff. */
  async function crashed(error: string, signal: AbortSignal): Promise<boolean> {
    const now = clock.now();
    lastError = error;
    crashes = [...crashes.filter((at) => now - at < policy.crashWindowMs), now];
    if (crashes.length >= policy.crashLimit) {
      run = null;
      report("failed");
      return true;
    }
    retryInMs = Math.min(policy.backoff.capMs, policy.backoff.baseMs * 2 ** attempt);
    attempt += 1;
    report("restarting");
    await clock.sleep(retryInMs, signal);
    retryInMs = null;
    return false;
  }

  async function supervise(signal: AbortSignal, settle: () => void): Promise<void> {
    while (!signal.aborted) {
      if (!live) {
        report(crashes.length === 0 ? "starting" : "restarting");
        const outcome = await serial.run(async () => live ?? await launch(port, signal));
        if (signal.aborted) break;
        if (typeof outcome === "string") {
          settle();
          if (await crashed(`Worker ${outcome}`, signal)) break;
          continue;
        }
        live = outcome;
        report("running");
      }
      settle();
      const watched = live;
      const exit = await watched.proc.exited;
      if (signal.aborted) break;
      if (live !== watched) continue; // replaced by restart(); that exit was planned
      live = null;
      if (clock.now() - watched.upAt >= policy.stableAfterMs) attempt = 0;
      const error = describeEnd(`exited ${describeExit(exit)}`, watched.proc);
      if (await crashed(`Worker ${error}`, signal)) break;
    }
    settle();
  }

  function begin(): Promise<void> {
    crashes = [];
    attempt = 0;
    lastError = null;
    const abort = new AbortController();
    let settle!: () => void;
    const firstOutcome = new Promise<void>((resolve) => settle = resolve);
    run = { abort, firstOutcome };
    void supervise(abort.signal, settle);
    return firstOutcome;
  }

  async function drainAndStop(old: Live): Promise<void> {
    const deadline = clock.now() + policy.drainTimeoutMs;
    while (clock.now() < deadline && (await deps.inFlight(old.port)) > 0) {
      await clock.sleep(policy.drainIntervalMs);
    }
    await old.proc.stop(policy.stopGraceMs);
  }

  return {
    start: () => run ? run.firstOutcome : begin(),
    async stop() {
      stops += 1;
      run?.abort.abort();
      run = null;
      await serial.run(async () => {
        const stopping = live;
        live = null;
        retryInMs = null;
        if (stopping) await stopping.proc.stop(policy.stopGraceMs);
        report("stopped");
      });
    },
    async restart(requested) {
      const stopsBefore = stops;
      const swapped = await serial.run(async () => {
        const target = requested ?? (live ? await deps.sparePort() : port);
        if (target === live?.port) {
          // Its health check would reach the old worker and prove nothing about the new one.
          throw new Error(`Restart failed: port ${target} is the one the worker serves on now`);
        }
        const fresh = await launch(target);
        if (typeof fresh === "string") throw new Error(`Restart failed: the new worker ${fresh}`);
        if (stops !== stopsBefore) {
          await fresh.proc.stop(policy.stopGraceMs);
          return null;
        }
        try {
          if (target !== port) await deps.switchUpstream(target);
        } catch (err) {
          await fresh.proc.stop(policy.stopGraceMs);
          throw err;
        }
        const previous = { live, port };
        live = fresh;
        port = target;
        if (!run) void begin(); // from stopped or failed: supervise the new worker
        report("running");
        return previous;
      });
      if (!swapped) return;
      // New requests go to the new worker only from here, so the old one's in-flight count can
      // reach zero; a site that was down had no worker there, but Caddy still listed the port.
      if (swapped.port !== port) await deps.releaseUpstream?.(swapped.port);
      if (swapped.live) await drainAndStop(swapped.live);
    },
    status,
  };
}

const TAIL_LINES = 10;

function describeExit(exit: ProcessExit): string {
  return exit.signal ? `on signal ${exit.signal}` : `with code ${exit.exitCode}`;
}

function describeEnd(what: string, proc: ProcessHandle): string {
  const lines = proc.tail().stderr.filter((line) => line.trim() !== "").slice(-TAIL_LINES);
  return lines.length === 0 ? what : `${what}; last stderr:\n${lines.join("\n")}`;
}
