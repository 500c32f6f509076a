// The host's Caddy: the one already answering on the agent's admin socket, or one the agent starts
// (`caddy run` from the last good config, else from an empty one) and keeps alive, restarting it
// after a capped backoff when it dies, and stopping it when the agent stops. Everything Caddy
// writes (its data, config, sockets and logs) stays inside the agent's 0700 Caddy directory.
import { mkdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { BackoffPolicy } from "../backoff.ts";
import { writeFileAtomic } from "../atomic-write.ts";
import { DEFAULT_PATH, type ProcessHandle, startProcess } from "../exec.ts";
import type { Log } from "../log.ts";
import { isCaddyUp, restrictAdminSocket } from "../caddy/caddy-admin.ts";
import { caddyfilePaths } from "../caddy/caddy-config.ts";

/** Caddy's files under the agent's state directory. */
export interface CaddyPlaces {
  /** 0700: Caddyfile, Caddyfile.last-good, Caddy's data and config homes. */
  dir: string;
  /** In its own 0700 directory. */
  adminSocket: string;
  /** Per-site access logs. */
  logDir: string;
}

/** `<stateDir>/caddy/`, with the admin socket in `admin/` and access logs in `logs/`. */
export function caddyPlaces(stateDir: string): CaddyPlaces {
  const dir = join(stateDir, "caddy");
  return { dir, adminSocket: join(dir, "admin", "admin.sock"), logDir: join(dir, "logs") };
}

/** How to run Caddy. */
export interface CaddyProcessOptions {
  caddyPath: string;
  places: CaddyPlaces;
  /** The Caddyfile to start from when none has loaded yet: this host's, with no sites. */
  emptyConfig: () => string;
  log: Log;
  /** Called each time this agent has started a Caddy (at first, or after one died). */
  onStart?: () => void;
  startTimeoutMs?: number;
  /** Delays between restarts of a Caddy that keeps dying. */
  backoff?: BackoffPolicy;
}

/** The host's Caddy, as the agent sees it. */
export interface CaddyProcess {
  /** Resolves once a Caddy answers on the admin socket, starting one if none does; else throws. */
  ensureRunning(): Promise<void>;
  /** The pid of the Caddy this agent started and supervises; null when it runs none. */
  pid(): number | null;
  /** Stops the Caddy this agent started (one it found running is left alone). */
  stop(): Promise<void>;
}

const STOP_GRACE_MS = 10_000;
const STABLE_AFTER_MS = 60_000;
const PROBE_INTERVAL_MS = 50;

/** Supervises Caddy for the agent; nothing starts before the first `ensureRunning`. */
export function createCaddyProcess(options: CaddyProcessOptions): CaddyProcess {
  const { places, log } = options;
  const backoff = options.backoff ?? { baseMs: 1_000, capMs: 60_000 };
  let proc: ProcessHandle | null = null;
  let upAt = 0;
  let starting: Promise<void> | null = null;
  let stopped = false;
  let attempt = 0;
  let retry: ReturnType<typeof setTimeout> | undefined;

  const env = {
    PATH: DEFAULT_PATH,
    HOME: places.dir,
    XDG_DATA_HOME: join(places.dir, "data"),
    XDG_CONFIG_HOME: join(places.dir, "config"),
  };

  async function prepare(): Promise<string[]> {
    await mkdir(places.dir, { recursive: true, mode: 0o700 });
    await mkdir(join(places.dir, "admin"), { recursive: true, mode: 0o700 });
    await mkdir(places.logDir, { recursive: true, mode: 0o700 });
    const { lastGood } = caddyfilePaths(places.dir);
    const empty = join(places.dir, "Caddyfile.empty");
    await writeFileAtomic(empty, options.emptyConfig(), 0o600);
    const hasLastGood = await stat(lastGood).then(() => true, () => false);
    // A last good config that no longer starts (a port taken since) must not keep sites down
    // for good: the empty one starts, and the next apply loads the sites again.
    return hasLastGood ? [lastGood, empty] : [empty];
  }

  /** Starts Caddy from `config` and waits for its admin socket; returns why it did not come up. */
  async function launch(config: string): Promise<ProcessHandle | string> {
    // A socket left by a Caddy that died would stop the new one from listening.
    await rm(places.adminSocket, { force: true });
    const handle = startProcess([
      options.caddyPath,
      "run",
      "--config",
      config,
      "--adapter",
      "caddyfile",
    ], {
      cwd: places.dir,
      env,
    });
    let exited = false;
    void handle.exited.then(() => exited = true);
    const deadline = Date.now() + (options.startTimeoutMs ?? 15_000);
    for (;;) {
      if (await isCaddyUp(places.adminSocket)) break;
      if (exited || Date.now() > deadline) {
        await handle.stop(STOP_GRACE_MS);
        const why = handle.tail().stderr.filter((line) => line.trim() !== "").slice(-5);
        return `Caddy did not start from ${config}${exited ? "" : " in time"}: ${why.join("\n")}`;
      }
      await new Promise((resolve) => setTimeout(resolve, PROBE_INTERVAL_MS));
    }
    await restrictAdminSocket(places.adminSocket);
    return handle;
  }

  async function start(): Promise<void> {
    // A Caddy already answering (one this agent started before it restarted) is used as it is.
    if (await isCaddyUp(places.adminSocket)) return;
    const problems: string[] = [];
    for (const config of await prepare()) {
      if (stopped) throw new Error("the agent is stopping");
      const outcome = await launch(config);
      if (typeof outcome === "string") {
        problems.push(outcome);
        continue;
      }
      proc = outcome;
      upAt = Date.now();
      log.info("started Caddy", { pid: outcome.pid, config });
      void watch(outcome);
      options.onStart?.();
      return;
    }
    throw new Error(problems.join("; "));
  }

  function scheduleRestart(): void {
    const delay = Math.min(backoff.capMs, backoff.baseMs * 2 ** attempt);
    attempt += 1;
    retry = setTimeout(() => {
      ensureRunning().catch((err) => {
        if (stopped) return;
        log.error("restarting Caddy failed", { error: String(err), attempt });
        scheduleRestart();
      });
    }, delay);
  }

  async function watch(handle: ProcessHandle): Promise<void> {
    const exit = await handle.exited;
    if (stopped || proc !== handle) return;
    proc = null;
    if (Date.now() - upAt >= STABLE_AFTER_MS) attempt = 0;
    const stderr = handle.tail().stderr.filter((line) => line.trim() !== "").slice(-5);
    log.warn("Caddy exited; restarting it", { exit, stderr });
    scheduleRestart();
  }

  function ensureRunning(): Promise<void> {
    if (stopped) return Promise.reject(new Error("the agent is stopping"));
    if (proc) return Promise.resolve();
    starting ??= start().finally(() => starting = null);
    return starting;
  }

  return {
    ensureRunning,
    pid: () => proc?.pid ?? null,
    async stop() {
      stopped = true;
      clearTimeout(retry);
      await starting?.catch(() => {});
      const running = proc;
      proc = null;
      if (running) await running.stop(STOP_GRACE_MS);
    },
  };
}
