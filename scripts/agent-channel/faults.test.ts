// Faults between the real agent and the real API: an agent killed -9 mid-command, and lost
// acknowledgements and results. Each command must end exactly once and never run twice, checked
// against the API's row, the agent's journal and the handler's own execution log.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { cleanupsAfterEach } from "../testing/cleanups.ts";
import { and, eq } from "drizzle-orm";
import type { AgentEventDetail, AgentHandle } from "../../agent/agent.ts";
import { INTERRUPTED_ERROR } from "../../agent/dispatch.ts";
import type { AgentFrame } from "../../agent/protocol/frames.ts";
import { auditLog } from "../../db/schema.ts";
import type { AgentServer } from "../testing/agent-server.ts";
import { addTestTenant } from "../testing/members.ts";
import { waitFor } from "../testing/wait.ts";
import { spawnTestAgent } from "./agent-process.ts";
import {
  commandNow,
  type EnrolledAgent,
  enrolTestAgent,
  issueCommands,
  journalByCommand,
  startChannelServer,
  waitCommandState,
  waitOnline,
} from "./channel-harness.ts";
import { runTestAgent } from "./test-agent.ts";
import { createGate, readExecutions, testHandlers } from "./test-handlers.ts";

// bun's default is 5 s; these start servers and processes, and must not flake on a busy box.
setDefaultTimeout(30_000);

let server: AgentServer;
let tenantId: string;
const onCleanup = cleanupsAfterEach();

beforeAll(async () => {
  server = await startChannelServer();
  tenantId = await addTestTenant(server.testApp, "Acme");
});
afterAll(() => server.close());

const hub = () => server.testApp.deps.agentHub;

async function enrol(name: string): Promise<EnrolledAgent> {
  const enrolled = await enrolTestAgent(server, tenantId, name);
  onCleanup(enrolled.remove);
  return enrolled;
}

async function run(dir: string, options: Parameters<typeof runTestAgent>[1] = {}) {
  const agent = await runTestAgent(dir, options);
  onCleanup(() => agent.stop());
  await waitOnline(server, agent);
  return agent;
}

async function runsOf(dir: string, id: string): Promise<number> {
  return (await readExecutions(dir)).filter((e) => e.id === id).length;
}

function spawnAgentProcess(dir: string) {
  const proc = spawnTestAgent(dir);
  onCleanup(async () => {
    proc.kill("SIGKILL");
    await proc.exited;
  });
  return proc;
}

// Collects how each command the agent reported on was finished (run, stored, interrupted).
function finishes(agent: AgentHandle): string[] {
  const seen: string[] = [];
  agent.events.addEventListener("commandFinished", (event) => {
    const detail = (event as CustomEvent<AgentEventDetail["commandFinished"]>).detail;
    seen.push(`${detail.commandId}:${detail.via}`);
  });
  return seen;
}

test("an agent killed -9 while a command runs reports it interrupted once after restart", async () => {
  const { host, dir } = await enrol("crash");
  const first = spawnAgentProcess(dir);
  await waitFor("the agent process to connect", () => hub().isConnected(host.id));
  const [sleep] = await issueCommands(server, host, [
    { kind: "test.sleep", payload: { ms: 120_000 } },
  ]);
  await waitCommandState(server, host, sleep!.id, "running");
  await waitFor("the handler to start", async () => (await runsOf(dir, sleep!.id)) === 1);

  first.kill("SIGKILL");
  await first.exited;
  await waitFor("the API to notice", () => !hub().isConnected(host.id));
  expect((await commandNow(server, host, sleep!.id)).state).toBe("running");

  spawnAgentProcess(dir);
  const ended = await waitCommandState(server, host, sleep!.id, "failed");
  expect(ended.error).toBe(INTERRUPTED_ERROR);
  expect(ended.deliveries).toBe(2);
  expect(await runsOf(dir, sleep!.id)).toBe(1);
  expect((await journalByCommand(dir)).get(sleep!.id)).toEqual(["accepted", "finished"]);
  const audited = await server.testApp.deps.database.db.select().from(auditLog)
    .where(and(eq(auditLog.resourceId, sleep!.id), eq(auditLog.action, "agent.command.failed")));
  expect(audited).toHaveLength(1);

  // The restarted agent goes on working.
  const [next] = await issueCommands(server, host, [{ kind: "test.record" }]);
  const done = await waitCommandState(server, host, next!.id, "succeeded");
  expect(done.result).toEqual({ recorded: next!.id });
  expect(await runsOf(dir, next!.id)).toBe(1);
});

// Drops the first frame of each listed type, whatever command it is for.
function dropFirst(types: AgentFrame["type"][]): (frame: AgentFrame) => boolean {
  const pending = new Set(types);
  return (frame) => !pending.delete(frame.type);
}

test("a lost ack: the command stays sent; after an API restart it is re-acknowledged, not re-run", async () => {
  const { host, dir } = await enrol("lost-ack");
  const gate = createGate();
  const agent = await run(dir, {
    handlers: testHandlers(dir, { hold: () => gate.wait() }),
    outboundFilter: dropFirst(["command_ack"]),
  });
  const seen = finishes(agent);
  const [cmd] = await issueCommands(server, host, [{ kind: "test.record", siteId: "site_a" }]);
  await waitFor("the handler to start", async () => (await runsOf(dir, cmd!.id)) === 1);
  expect((await commandNow(server, host, cmd!.id)).state).toBe("sent");

  // The API goes away and comes back while the handler still runs; it resends what is `sent`.
  await hub().stop();
  await hub().start();
  await waitCommandState(server, host, cmd!.id, "running");
  gate.open();
  const done = await waitCommandState(server, host, cmd!.id, "succeeded");
  expect(done).toMatchObject({ deliveries: 2, result: { recorded: cmd!.id } });
  expect(await runsOf(dir, cmd!.id)).toBe(1);
  expect(seen).toEqual([`${cmd!.id}:run`]);
  expect((await journalByCommand(dir)).get(cmd!.id)).toEqual(["accepted", "finished"]);
});

test("a lost ack and result: after the agent restarts it answers from its journal, not re-run", async () => {
  const { host, dir } = await enrol("lost-result");
  const first = await run(dir, { outboundFilter: dropFirst(["command_ack", "command_result"]) });
  const seenFirst = finishes(first);
  const [cmd] = await issueCommands(server, host, [{ kind: "test.record" }]);
  await waitFor("the agent to finish it", () => seenFirst.length === 1);
  expect(seenFirst).toEqual([`${cmd!.id}:run`]);
  expect((await commandNow(server, host, cmd!.id)).state).toBe("sent");

  await first.stop();
  const second = await runTestAgent(dir);
  onCleanup(() => second.stop());
  const seenSecond = finishes(second);
  const done = await waitCommandState(server, host, cmd!.id, "succeeded");
  expect(done).toMatchObject({ deliveries: 2, result: { recorded: cmd!.id } });
  expect(seenSecond).toEqual([`${cmd!.id}:stored`]);
  expect(await runsOf(dir, cmd!.id)).toBe(1);
  expect((await journalByCommand(dir)).get(cmd!.id)).toEqual(["accepted", "finished"]);
});
