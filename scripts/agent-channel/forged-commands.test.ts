// Attack tests on the live channel: frames pushed down a real, authenticated API socket to a real
// agent, as a compromised network path or a buggy replica would. Forged, tampered, expired,
// premature, wrong-host and replayed commands never run; every refusal is audited.
import { afterAll, afterEach, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { and, eq } from "drizzle-orm";
import type { AgentHandle } from "../../agent/agent.ts";
import type { CommandEnvelope, RejectReason } from "../../agent/protocol/commands.ts";
import { createTestSigner, testEnvelope, writeTestState } from "../../agent/test-fixtures.ts";
import { agentCommands, auditLog } from "../../db/schema.ts";
import type { AgentServer } from "../testing/agent-server.ts";
import { addTestTenant } from "../testing/members.ts";
import { waitFor } from "../testing/wait.ts";
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
import { type SocketTap, tapAgentSockets } from "./socket-tap.ts";
import { runTestAgent } from "./test-agent.ts";
import { createGate, readExecutions, testHandlers } from "./test-handlers.ts";

// bun's default is 5 s; these start servers and processes, and must not flake on a busy box.
setDefaultTimeout(30_000);

let server: AgentServer;
let tap: SocketTap;
let a: EnrolledAgent & { agent: AgentHandle };
let b: EnrolledAgent & { agent: AgentHandle };
const gate = createGate();

beforeAll(async () => {
  server = await startChannelServer();
  tap = tapAgentSockets(server.testApp.deps.agentHub);
  const tenantId = await addTestTenant(server.testApp, "Acme");
  const start = async (name: string) => {
    const enrolled = await enrolTestAgent(server, tenantId, name);
    const agent = await runTestAgent(enrolled.dir, {
      handlers: testHandlers(enrolled.dir, { hold: (id) => (id === heldId ? gate.wait() : none) }),
    });
    await waitOnline(server, agent);
    return { ...enrolled, agent };
  };
  a = await start("web-a");
  b = await start("web-b");
});
afterEach(() => {
  expect(a.agent.isConnected() && b.agent.isConnected()).toBe(true);
});
afterAll(async () => {
  gate.open();
  for (const { agent, remove } of [a, b]) {
    await agent.stop();
    await remove();
  }
  await server.close();
});

const none = Promise.resolve();
let heldId: string | undefined;
const db = () => server.testApp.deps.database.db;
const signer = () => server.testApp.deps.commandSigner;

function push(hostId: string, signed: { body: string; signature: string }): void {
  expect(tap.send(hostId, { type: "command", ...signed })).toBe(true);
}

// The refusals host `hostId` reported and the API audited, for `commandId` (null: unreadable).
async function rejections(hostId: string, commandId: string | null) {
  const rows = await db().select().from(auditLog).where(and(
    eq(auditLog.action, "agent.command_rejected"),
    eq(auditLog.actorId, hostId),
  ));
  return rows.filter((row) => row.details.commandId === commandId);
}

async function expectRejected(hostId: string, commandId: string | null, reason: RejectReason) {
  let rows: Awaited<ReturnType<typeof rejections>> = [];
  await waitFor(
    `a ${reason} refusal`,
    async () =>
      (rows = await rejections(hostId, commandId)).some((row) => row.details.reason === reason),
  );
  expect(rows.at(-1)).toMatchObject({ actorKind: "agent", outcome: "denied" });
}

const ranIds = async (dir: string) => (await readExecutions(dir)).map((e) => e.id);
const envelope = (hostId: string, overrides: Partial<CommandEnvelope> = {}) =>
  testEnvelope(hostId, { kind: "test.record", ...overrides });

test("a command signed with another key is rejected unrun, even one reusing a live id", async () => {
  const forger = await createTestSigner();
  const forged = envelope(a.host.id);
  push(a.host.id, await forger.sign(forged));
  await expectRejected(a.host.id, null, "bad_signature");

  // A real command is running; a forgery carrying its id must neither run nor end it.
  const [real] = await issueCommands(server, a.host, [{ kind: "test.record", siteId: "s1" }]);
  heldId = real!.id;
  await waitCommandState(server, a.host, real!.id, "running");
  const before = (await rejections(a.host.id, null)).length;
  push(a.host.id, await forger.sign(envelope(a.host.id, { id: real!.id, siteId: "s1" })));
  await waitFor(
    "the second refusal",
    async () => (await rejections(a.host.id, null)).length > before,
  );
  expect((await commandNow(server, a.host, real!.id)).state).toBe("running");
  gate.open();
  await waitCommandState(server, a.host, real!.id, "succeeded");
  expect(await ranIds(a.dir)).toEqual([real!.id]);
  expect(await ranIds(a.dir)).not.toContain(forged.id);
});

test("a real signature over an altered body is rejected unrun", async () => {
  const altered = envelope(a.host.id, { payload: { n: 1 } });
  const signed = await signer().sign(altered);
  const body = signed.body.replace('"n":1', '"n":2');
  expect(body).not.toBe(signed.body);
  const before = (await rejections(a.host.id, null)).length;
  push(a.host.id, { body, signature: signed.signature });
  await waitFor("the refusal", async () => (await rejections(a.host.id, null)).length > before);
  expect((await rejections(a.host.id, null)).at(-1)?.details.reason).toBe("bad_signature");
  expect(await ranIds(a.dir)).not.toContain(altered.id);
  expect((await journalByCommand(a.dir)).has(altered.id)).toBe(false);
});

test("expired, not-yet-valid and wrong-host commands signed by the API are rejected unrun", async () => {
  const hour = 60 * 60_000;
  const past = (ms: number) => new Date(Date.now() - ms).toISOString();
  const expired = envelope(a.host.id, { issuedAt: past(2 * hour), expiresAt: past(hour) });
  const early = envelope(a.host.id, { notBefore: new Date(Date.now() + hour).toISOString() });
  const elsewhere = envelope(b.host.id);
  for (const cmd of [expired, early, elsewhere]) push(a.host.id, await signer().sign(cmd));
  await expectRejected(a.host.id, expired.id, "expired");
  await expectRejected(a.host.id, early.id, "not_yet_valid");
  await expectRejected(a.host.id, elsewhere.id, "wrong_host");
  const ran = await ranIds(a.dir);
  for (const cmd of [expired, early, elsewhere]) expect(ran).not.toContain(cmd.id);
  expect(await ranIds(b.dir)).toEqual([]);
});

test("a replayed command runs once: its host answers from the journal, another host refuses", async () => {
  const [real] = await issueCommands(server, b.host, [{ kind: "test.record" }]);
  const done = await waitCommandState(server, b.host, real!.id, "succeeded");
  const [row] = await db().select().from(agentCommands).where(eq(agentCommands.id, real!.id));
  const captured = { body: row!.body, signature: row!.signature };

  let stored = 0;
  b.agent.events.addEventListener("commandFinished", (event) => {
    const detail = (event as CustomEvent<{ commandId: string; via: string }>).detail;
    if (detail.commandId === real!.id && detail.via === "stored") stored++;
  });
  push(b.host.id, captured);
  push(b.host.id, captured);
  await waitFor("both replays answered from the journal", () => stored === 2);
  push(a.host.id, captured);
  await expectRejected(a.host.id, real!.id, "wrong_host");

  expect(await ranIds(b.dir)).toEqual([real!.id]);
  expect((await journalByCommand(b.dir)).get(real!.id)).toEqual(["accepted", "finished"]);
  // The replays changed nothing: the row still holds the first (and only) result.
  expect(await commandNow(server, b.host, real!.id)).toEqual(done);
});

test("an agent presenting another host's id with its own key fails the challenge", async () => {
  const { dir, remove } = await enrolTestAgent(server, a.host.tenantId, "impostor");
  await writeTestState(dir, {
    hostId: a.host.id,
    apiUrl: server.baseUrl,
    apiPublicKey: signer().publicKey,
  });
  const impostor = await runTestAgent(dir);
  try {
    const refusals = () =>
      db().select().from(auditLog).where(and(
        eq(auditLog.action, "agent.auth_failed"),
        eq(auditLog.resourceId, a.host.id),
      ));
    await waitFor("two refused attempts", async () => (await refusals()).length >= 2);
    for (const row of await refusals()) {
      expect(row.details).toMatchObject({ reason: "bad signature" });
    }
    expect(impostor.isConnected()).toBe(false);
  } finally {
    await impostor.stop();
    await remove();
  }
});
