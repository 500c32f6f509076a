// The real agent as a process of its own (test-agent-main.ts), for tests that kill -9 or stop it.
import { join } from "node:path";
import type { Subprocess } from "bun";

const AGENT_MAIN = join(import.meta.dir, "test-agent-main.ts");

/** Starts a test agent process on the enrolled directory `dir`; the caller kills it. */
export function spawnTestAgent(dir: string): Subprocess<"ignore", "ignore", "inherit"> {
  return Bun.spawn([process.execPath, AGENT_MAIN], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", AGENT_DIR: dir },
    stdin: "ignore",
    stdout: "ignore",
    stderr: "inherit",
  });
}
