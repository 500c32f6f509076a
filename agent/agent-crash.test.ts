// A real agent process killed with SIGKILL while a command runs: after a restart the command ends
// exactly once, as "interrupted", and is never run again.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { INTERRUPTED_ERROR } from "./dispatch.ts";
import { journalPath, readJournalEntries } from "./journal.ts";
import { type FakeApi, startFakeApi } from "./test-api.ts";
import { tempDir, writeTestState } from "./test-fixtures.ts";
import { waitFor } from "../scripts/testing/wait.ts";

// An agent with one extra kind that never finishes, and a marker line per run on stdout.
const SCRIPT = `
import { startAgent } from ${JSON.stringify(join(import.meta.dir, "agent.ts"))};
import { silentLog } from ${JSON.stringify(join(import.meta.dir, "log.ts"))};
await startAgent({
  stateDir: process.env.AGENT_DIR,
  mode: "sandbox",
  modeReason: "test",
  log: silentLog,
  timing: { backoffBaseMs: 20, backoffCapMs: 100 },
  handlers: {
    "test.block": () => {
      console.log("RUN test.block");
      return new Promise(() => {});
    },
  },
});
`;

let dir: string;
let remove: () => Promise<void>;
let api: FakeApi;
const procs: Subprocess[] = [];
let output = "";

beforeEach(async () => {
  ({ dir, remove } = await tempDir("crash"));
  api = await startFakeApi();
  const state = await writeTestState(dir, {
    hostId: api.hostId,
    apiUrl: api.url,
    apiPublicKey: api.signer.publicKey,
  });
  api.agentPublicKey = state.publicKey;
});
afterEach(async () => {
  for (const proc of procs) proc.kill("SIGKILL");
  await Promise.all(procs.map((p) => p.exited));
  await api.stop();
  await remove();
});

function spawnAgent(): Subprocess<"ignore", "pipe", "inherit"> {
  const proc = Bun.spawn([process.execPath, "-e", SCRIPT], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", AGENT_DIR: dir },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "inherit",
  });
  procs.push(proc);
  void (async () => {
    const reader = proc.stdout.getReader();
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      output += new TextDecoder().decode(read.value);
    }
  })();
  return proc;
}

test("a command running when the agent is killed -9 ends once, interrupted, never re-run", async () => {
  const first = spawnAgent();
  await waitFor(
    "the first connection",
    () => api.welcomed === 1 && api.framesOf("hello").length === 1,
  );
  const command = await api.command({ kind: "test.block" });
  await waitFor("the ack", () => api.framesOf("command_ack").length === 1);
  await waitFor("the handler to start", () => output.includes("RUN test.block"));
  first.kill("SIGKILL");
  await first.exited;

  spawnAgent();
  await waitFor("the second connection", () => api.welcomed === 2);
  const frame = await api.signer.sign(command); // the API resends what was running
  api.send(frame);
  const results = () => api.framesOf("command_result").filter((f) => f.commandId === command.id);
  await waitFor("the interrupted result", () => results().length === 1);
  expect(results()[0]).toMatchObject({ outcome: "failed", error: INTERRUPTED_ERROR });

  api.send(frame);
  await waitFor("the result re-sent", () => results().length === 2);
  expect(results()[1]).toEqual(results()[0]!);
  expect(output.match(/RUN test\.block/g)).toHaveLength(1);
  const { entries } = await readJournalEntries(journalPath(dir));
  expect(entries.filter((e) => e.id === command.id).map((e) => e.type)).toEqual([
    "accepted",
    "finished",
  ]);
});
