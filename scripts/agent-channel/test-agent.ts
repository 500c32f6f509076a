// Starting the real agent as the channel tests run it: sandboxed, quiet, fast timings, with the
// test command kinds. Imports nothing from api/, so a separate agent process starts quickly.
import { type AgentHandle, type AgentOptions, startAgent } from "../../agent/agent.ts";
import { silentLog } from "../../agent/log.ts";
import { testHandlers } from "./test-handlers.ts";

/** Agent timings: fast redials, heartbeats often enough that nothing times out by accident. */
export const AGENT_TIMING = {
  heartbeatMs: 500,
  peerTimeoutMs: 10_000,
  backoffBaseMs: 20,
  backoffCapMs: 200,
  metricsMs: 60_000,
};

/** Starts a quiet, sandboxed agent in `dir` with the test command kinds. */
export function runTestAgent(
  dir: string,
  options: Partial<AgentOptions> = {},
): Promise<AgentHandle> {
  return startAgent({
    stateDir: dir,
    mode: "sandbox",
    modeReason: "test agent",
    log: silentLog,
    timing: AGENT_TIMING,
    handlers: testHandlers(dir),
    ...options,
  });
}
