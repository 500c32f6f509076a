// Commands that wait: queued while the agent is away, while the API itself is down and restarted
// on the same database, or until their not-before time. All are delivered when they can be, in
// order per site; one that expired meanwhile ends `expired` and never runs.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { cleanupsAfterEach } from "../testing/cleanups.ts";
import type { AgentHandle } from "../../agent/agent.ts";
import { type CommandView, enqueueCommand } from "../../api/services/agent-commands.ts";
import type { AgentServer } from "../testing/agent-server.ts";
import { openTestDatabase, type TestDatabase } from "../testing/db.ts";
import { addTestTenant } from "../testing/members.ts";
import { randomAgentSigningKey } from "../testing/secrets.ts";
import { waitFor } from "../testing/wait.ts";
import { startApiRelay } from "./api-relay.ts";
import {
  commandNow,
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

// A restarted API must sign with the same key, or its agents would refuse its commands.
const signingKey = randomAgentSigningKey();
let database: TestDatabase;
let server: AgentServer;
let tenantId: string;
const onCleanup = cleanupsAfterEach();

beforeAll(async () => {
  database = await openTestDatabase();
  server = await startChannelServer({ database, signingKey });
  tenantId = await addTestTenant(server.testApp, "Acme");
});
afterAll(async () => {
  await server.close();
  await database.close();
});

const portOf = (s: AgentServer) => Number(new URL(s.baseUrl).port);
const TEST_RECORD = {
  siteId: "site_a",
  kind: "test.record",
  payload: {},
  issuedBy: null,
  ttlMs: 60_000,
};

// Each site's commands ran in the order they were issued (seq), each exactly once.
async function expectRanInOrder(dir: string, commands: CommandView[]) {
  const executions = await readExecutions(dir);
  for (const site of new Set(commands.map((c) => c.siteId ?? "host"))) {
    const issued = commands.filter((c) => (c.siteId ?? "host") === site).map((c) => c.id);
    const ran = executions.filter((e) => e.site === site).map((e) => e.id);
    expect(ran).toEqual(issued);
  }
}

test("commands queued while the agent is offline run when it returns; an expired one never", async () => {
  const { host, dir, remove } = await enrolTestAgent(server, tenantId, "away");
  onCleanup(remove);
  const [doomed] = await issueCommands(server, host, [
    { kind: "test.record", siteId: "site_a", ttlMs: 200 },
  ]);
  const waiting = await issueCommands(server, host, [
    { kind: "test.record", siteId: "site_a" },
    { kind: "test.record", siteId: "site_b" },
    { kind: "test.record" },
    { kind: "test.record", siteId: "site_a" },
  ]);
  await waitFor("the first command's expiry", () => Date.now() > Date.parse(doomed!.expiresAt));

  const agent = await runTestAgent(dir);
  onCleanup(() => agent.stop());
  for (const cmd of waiting) await waitCommandState(server, host, cmd.id, "succeeded");
  const expired = await commandNow(server, host, doomed!.id);
  expect(expired).toMatchObject({ state: "expired", deliveries: 0, startedAt: null });
  await expectRanInOrder(dir, waiting);
  expect((await readExecutions(dir)).map((e) => e.id)).not.toContain(doomed!.id);
  expect((await journalByCommand(dir)).has(doomed!.id)).toBe(false);
});

test("a command that may not run yet goes out when its time comes, with nothing else happening", async () => {
  const { host, dir, remove } = await enrolTestAgent(server, tenantId, "scheduled");
  onCleanup(remove);
  const agent = await runTestAgent(dir);
  onCleanup(() => agent.stop());
  await waitOnline(server, agent);
  const deps = server.testApp.deps;
  const notBefore = new Date(deps.now().getTime() + 300);
  const [later, behind] = await deps.database.db.transaction(async (tx) => [
    await enqueueCommand(tx, deps, { ...TEST_RECORD, host, notBefore }),
    await enqueueCommand(tx, deps, { ...TEST_RECORD, host }),
  ]);
  // Nothing else happens on this host now: only the outbox's own timer can send them.
  const ran = await waitCommandState(server, host, later!.id, "succeeded");
  expect(Date.parse(ran.sentAt!)).toBeGreaterThanOrEqual(notBefore.getTime());
  // The command queued behind the held head waited for it.
  const next = await waitCommandState(server, host, behind!.id, "succeeded");
  expect(Date.parse(next.sentAt!)).toBeGreaterThanOrEqual(Date.parse(ran.finishedAt!));
  await expectRanInOrder(dir, [later!, behind!]);
});

test("an API restarted on the same database delivers what was queued and re-sends what ran", async () => {
  const relay = await startApiRelay(portOf(server));
  onCleanup(() => relay.close());
  const { host, dir, remove } = await enrolTestAgent(server, tenantId, "restart", relay.url);
  onCleanup(remove);
  const gate = createGate();
  const agent: AgentHandle = await runTestAgent(dir, {
    handlers: testHandlers(dir, { hold: () => gate.wait() }),
  });
  onCleanup(() => agent.stop());
  await waitOnline(server, agent);
  const [held] = await issueCommands(server, host, [{ kind: "test.record", siteId: "site_a" }]);
  await waitCommandState(server, host, held!.id, "running");

  // The API process goes away; the agent keeps its command running and keeps redialling.
  await server.close();
  await waitFor("the agent to notice", () => !agent.isConnected());
  server = await startChannelServer({ database, signingKey });
  const queued = await issueCommands(server, host, [
    { kind: "test.record", siteId: "site_a" },
    { kind: "test.record", siteId: "site_b" },
    { kind: "test.record" },
    { kind: "test.record", siteId: "site_b" },
    { kind: "test.record", siteId: "site_a" },
  ]);
  expect((await commandNow(server, host, queued[0]!.id)).state).toBe("queued");
  relay.retarget(portOf(server));
  await waitOnline(server, agent);
  gate.open();

  const done = await waitCommandState(server, host, held!.id, "succeeded");
  expect(done.deliveries).toBe(2);
  for (const cmd of queued) await waitCommandState(server, host, cmd.id, "succeeded");
  await expectRanInOrder(dir, [held!, ...queued]);
  const journal = await journalByCommand(dir);
  for (const cmd of [held!, ...queued]) {
    expect(journal.get(cmd.id)).toEqual(["accepted", "finished"]);
  }
});
