// The real agent program (agent/), enrolled through the API's HTTP enrolment and run in this test
// process from a state directory of its own, with one test-only command kind that records runs.
import { hostname } from "node:os";
import { type AgentHandle, startAgent } from "../../agent/agent.ts";
import { enrollAgent } from "../../agent/enroll.ts";
import { silentLog } from "../../agent/log.ts";
import { tempDir } from "../../agent/test-fixtures.ts";
import { waitFor } from "../testing/wait.ts";

/** A test-only kind without `supersedes`: every one queued must run, in order. */
export const ECHO_KIND = "test.echo";

/** An enrolled agent's state directory. */
export interface EnrolledAgent {
  hostId: string;
  stateDir: string;
  /** Removes the state directory. */
  remove(): Promise<void>;
}

/** A running agent and what it did. */
export interface RunningAgent {
  handle: AgentHandle;
  /** `payload.n` of every ECHO_KIND command run, in the order they ran. */
  echoed: number[];
  /** Close codes of every socket the agent lost. */
  disconnects: { code: number; reason: string }[];
  /** Resolves once the agent holds an authenticated socket. */
  connected(): Promise<void>;
  stop(): Promise<void>;
}

/** Enrols a fresh agent with `enrolmentToken` against the API at `apiUrl`. */
export async function enrolRealAgent(
  apiUrl: string,
  enrolmentToken: string,
): Promise<EnrolledAgent> {
  const { dir, remove } = await tempDir("replica-agent");
  const state = await enrollAgent({
    apiUrl,
    token: enrolmentToken,
    stateDir: dir,
    hostname: hostname(),
  });
  return { hostId: state.hostId, stateDir: dir, remove };
}

/**
 * Runs the agent from `stateDir` against `apiUrl` (an API on a new port after a restart), in
 * sandbox mode, reconnecting quickly when its socket drops.
 */
export async function runRealAgent(stateDir: string, apiUrl: string): Promise<RunningAgent> {
  const echoed: number[] = [];
  const disconnects: { code: number; reason: string }[] = [];
  const handle = await startAgent({
    stateDir,
    apiUrl,
    mode: "sandbox",
    modeReason: "replica test",
    log: silentLog,
    timing: { backoffBaseMs: 50, backoffCapMs: 500 },
    handlers: {
      [ECHO_KIND]: (payload) => {
        echoed.push(Number(payload.n));
        return Promise.resolve({ n: payload.n });
      },
    },
  });
  handle.events.addEventListener("disconnected", (event) => {
    disconnects.push((event as CustomEvent<{ code: number; reason: string }>).detail);
  });
  return {
    handle,
    echoed,
    disconnects,
    connected: () => waitFor("the agent to connect", () => handle.isConnected()),
    stop: () => handle.stop(),
  };
}
