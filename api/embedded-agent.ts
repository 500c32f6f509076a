// Runs the agent for this machine inside the API process (a Bun Worker speaking the same protocol
// over loopback as a remote agent). Runtime-neutral: the entry file supplies the Worker.
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { AppDeps } from "./deps.ts";
import { prepareLocalHost } from "./services/local-host.ts";

/** The part of a Worker this file uses (web-standard, so Bun's and Deno's both fit). */
export interface AgentWorker {
  postMessage(message: unknown): void;
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
  addEventListener(type: "error", listener: (event: { message?: string }) => void): void;
  terminate(): void;
}

/** How the embedded agent is started; `spawn` creates the Worker running agent/embedded-worker.ts. */
export interface EmbeddedAgentOptions {
  /** Where the agent dials the API: this process's loopback listener. */
  apiUrl: string;
  spawn: () => AgentWorker;
  /** Caddy's HTTP port for this host's sites (CADDIS_AGENT_HTTP_PORT); the agent's default if absent. */
  httpPort?: number;
  /** How long to wait between checks for the first tenant (setup) and after a worker failure. */
  retryMs?: number;
}

/** A handle to stop the embedded agent on shutdown. */
export interface EmbeddedAgent {
  stop(): Promise<void>;
}

// The agent stops its site workers and the Caddy it started before it says it stopped; cut short,
// they would outlive the API.
const STOP_GRACE_MS = 15_000;

/**
 * Enrols the `local` host once (after setup created the first tenant) and keeps an agent Worker
 * running for it; a failed Worker is restarted after `retryMs`. Never throws: problems are logged.
 */
export function startEmbeddedAgent(deps: AppDeps, options: EmbeddedAgentOptions): EmbeddedAgent {
  const stateDir = resolve(join(deps.config.dataDir, "agent"));
  const retryMs = options.retryMs ?? 2_000;
  let stopped = false;
  let worker: AgentWorker | undefined;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let waitingLogged = false;

  const retry = () => {
    if (!stopped) retryTimer = setTimeout(() => void launch(), retryMs);
  };

  const launch = async () => {
    let prepared;
    try {
      prepared = await prepareLocalHost(deps, await enrolledHostId(stateDir));
    } catch (err) {
      deps.log.error({ err }, "embedded agent: could not prepare the local host; retrying");
      return retry();
    }
    if (prepared.kind === "no_tenant") {
      if (!waitingLogged) deps.log.info("embedded agent: waiting for setup to create a tenant");
      waitingLogged = true;
      return retry();
    }
    if (prepared.kind === "revoked") {
      deps.log.warn(
        { hostId: prepared.hostId },
        "embedded agent: the local host was revoked, so it stays off; add this machine as a host " +
          "again, or set CADDIS_EMBEDDED_AGENT=off",
      );
      return;
    }
    if (stopped) return;
    const current = options.spawn();
    worker = current;
    current.addEventListener("message", (event) => {
      const message = event.data as { type?: string; hostId?: string; message?: string };
      if (message.type === "ready") {
        deps.log.info({ hostId: message.hostId }, "embedded agent running for the local host");
      } else if (message.type === "error") {
        deps.log.error({ problem: message.message }, "embedded agent failed; restarting it");
        restart(current);
      }
    });
    current.addEventListener("error", (event) => {
      deps.log.error({ problem: event.message }, "embedded agent crashed; restarting it");
      restart(current);
    });
    current.postMessage({
      apiUrl: options.apiUrl,
      stateDir,
      enrolToken: prepared.enrolToken,
      ...(options.httpPort === undefined ? {} : { httpPort: options.httpPort }),
    });
  };

  const restart = (failed: AgentWorker) => {
    if (worker !== failed) return;
    worker = undefined;
    failed.terminate();
    retry();
  };

  void launch();
  return {
    async stop() {
      stopped = true;
      clearTimeout(retryTimer);
      const current = worker;
      worker = undefined;
      if (!current) return;
      const done = new Promise<void>((resolve) => {
        current.addEventListener("message", (event) => {
          if ((event.data as { type?: string }).type === "stopped") resolve();
        });
        setTimeout(resolve, STOP_GRACE_MS);
      });
      current.postMessage({ type: "stop" });
      await done;
      current.terminate();
    },
  };
}

// The host id in the agent's state file, if it has one: a mismatch with the database (a reset
// database, a copied data dir) means the agent must enrol again.
async function enrolledHostId(stateDir: string): Promise<string | undefined> {
  try {
    const state = JSON.parse(await readFile(join(stateDir, "agent.json"), "utf8"));
    return typeof state?.hostId === "string" ? state.hostId : undefined;
  } catch {
    return undefined;
  }
}
