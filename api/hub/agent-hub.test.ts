// The hub's life cycle of an agent socket: hello stored, desired state sent on connect and on
// change, heartbeats, silent peers dropped, one socket per host, last-seen batching, shutdown.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { AGENT_SOCKET_PATH } from "../../agent/protocol/enrolment.ts";
import { TOOL_NAMES, type ToolInventory } from "../../agent/protocol/host-report.ts";
import { CLOSE } from "../../agent/protocol/version.ts";
import { hostMetrics, hosts } from "../../db/schema.ts";
import { type AgentServer, startAgentServer } from "../../scripts/testing/agent-server.ts";
import { createTestApp } from "../../scripts/testing/app.ts";
import { addTestTenant } from "../../scripts/testing/members.ts";
import {
  connectAgent,
  insertEnrolledHost,
  type ProtocolClient,
  sampleFacts,
} from "../../scripts/testing/protocol-client.ts";
import { waitFor } from "../../scripts/testing/wait.ts";
import { bumpDesiredRevision } from "../services/desired-state.ts";

const HUB = {
  heartbeatMs: 100,
  peerTimeoutMs: 600,
  sweepMs: 50,
  lastSeenFlushMs: 100,
  lastSeenResolutionMs: 300,
};

let server: AgentServer;
let tenantId: string;

beforeAll(async () => {
  server = await startAgentServer({ hub: HUB });
  tenantId = await addTestTenant(server.testApp, "Acme");
});
afterAll(() => server.close());

const deps = () => server.testApp.deps;
const hub = () => deps().agentHub;

async function hostRow(hostId: string) {
  const [row] = await deps().database.db.select().from(hosts).where(eq(hosts.id, hostId));
  if (!row) throw new Error(`no host ${hostId}`);
  return row;
}

test("hello stores the agent's facts and marks the host connected to this replica", async () => {
  const identity = await insertEnrolledHost(deps().database.db, tenantId, "web-1");
  const client = await connectAgent(server.wsUrl, identity, {
    hello: { agentVersion: "1.2.3", mode: "system", modeReason: null },
  });
  const row = await hostRow(identity.hostId);
  expect(row.agentVersion).toBe("1.2.3");
  expect(row.mode).toBe("system");
  expect(row.modeReason).toBeNull();
  expect(row.facts).toEqual(sampleFacts());
  expect(row.connectedReplica).toBe(deps().replicaId);
  expect(row.connectedAt).toBeInstanceOf(Date);
  expect(row.lastSeenAt).toBeInstanceOf(Date);
  expect(hub().isConnected(identity.hostId)).toBe(true);

  client.close();
  await waitFor(
    "the host to be marked disconnected",
    async () => (await hostRow(identity.hostId)).connectedReplica === null,
  );
  expect(hub().isConnected(identity.hostId)).toBe(false);
});

test("the desired state goes out on connect and again after every change", async () => {
  const identity = await insertEnrolledHost(deps().database.db, tenantId, "web-2");
  const client = await connectAgent(server.wsUrl, identity);
  const first = await client.waitFrame("desired_state");
  expect(first.state).toEqual({ hostId: identity.hostId, revision: 1, sites: [] });

  const revision = await deps().database.db.transaction((tx) =>
    bumpDesiredRevision(tx, identity.hostId)
  );
  expect(revision).toBe(2);
  const next = await client.waitFrame("desired_state", (f) => f.state.revision === 2);
  expect(next.state.hostId).toBe(identity.hostId);
  client.close();
});

test("observed state is stored with its revision, facts and inventory", async () => {
  const identity = await insertEnrolledHost(deps().database.db, tenantId, "web-3");
  const client = await connectAgent(server.wsUrl, identity);
  const git = { present: true, path: "/usr/bin/git", version: "git version 2.47.2" };
  const absent = { present: false, path: null, version: null };
  client.send({
    type: "observed_state",
    observed: {
      revision: 1,
      observedAt: new Date().toISOString(),
      facts: { ...sampleFacts(), hostname: "renamed" },
      inventory: Object.fromEntries(
        TOOL_NAMES.map((n) => [n, n === "git" ? git : absent]),
      ) as ToolInventory,
      sections: { sites: { ok: true, drift: [], error: null } },
    },
  });
  await waitFor(
    "the report to be stored",
    async () => (await hostRow(identity.hostId)).observedRevision === 1,
  );
  const row = await hostRow(identity.hostId);
  expect(row.facts).toMatchObject({ hostname: "renamed" });
  expect(row.inventory).toMatchObject({ git, caddy: absent });
  expect(row.observed).toMatchObject({ sections: { sites: { ok: true } } });
  expect(client.frames.some((f) => f.type === "error")).toBe(false);
  client.close();
});

test("a repeated observed state is stored once per socket; a changed one is stored", async () => {
  const identity = await insertEnrolledHost(deps().database.db, tenantId, "web-repeat");
  const inventory = Object.fromEntries(
    TOOL_NAMES.map((n) => [n, { present: false, path: null, version: null }]),
  ) as ToolInventory;
  const report = (client: ProtocolClient, second: number, hostname: string) =>
    client.send({
      type: "observed_state",
      observed: {
        revision: 1,
        observedAt: `2030-01-01T00:00:0${second}.000Z`,
        facts: { ...sampleFacts(), hostname },
        inventory,
        sections: {},
      },
    });
  const storedSecond = async () =>
    (await hostRow(identity.hostId)).observedAt?.getUTCSeconds() ?? null;
  const metricRows = async () =>
    (await deps().database.db.select().from(hostMetrics)
      .where(eq(hostMetrics.hostId, identity.hostId))).length;

  const first = await connectAgent(server.wsUrl, identity);
  report(first, 1, "same");
  await waitFor("the first report", async () => (await storedSecond()) === 1);
  report(first, 2, "same");
  // Frames are handled in order: once this sample is stored, the repeat before it was handled.
  first.send({ type: "metrics", sample: sample() });
  await waitFor("the sample after the repeat", async () => (await metricRows()) === 1);
  expect(await storedSecond()).toBe(1);
  report(first, 3, "changed");
  await waitFor("the changed report", async () => (await storedSecond()) === 3);
  expect((await hostRow(identity.hostId)).facts).toMatchObject({ hostname: "changed" });
  first.close();
  await first.closed;
  // A new socket remembers nothing: its first report is stored, though it repeats the last one.
  const second = await connectAgent(server.wsUrl, identity);
  report(second, 4, "changed");
  await waitFor("the new socket's report", async () => (await storedSecond()) === 4);
  second.close();
});

function sample() {
  return {
    at: new Date().toISOString(),
    cpuPercent: 1,
    load1: 0.1,
    load5: 0.1,
    load15: 0.1,
    memoryUsedBytes: 1,
    memoryTotalBytes: 2,
    diskUsedBytes: 1,
    diskTotalBytes: 2,
  };
}

test("an agent that keeps talking stays; a silent one is closed and marked disconnected", async () => {
  const talker = await connectAgent(
    server.wsUrl,
    await insertEnrolledHost(deps().database.db, tenantId, "talker"),
  );
  const silentIdentity = await insertEnrolledHost(deps().database.db, tenantId, "silent");
  const silent = await connectAgent(server.wsUrl, silentIdentity);
  // Answer each heartbeat; the silent agent says nothing after hello.
  let answered = 0;
  while (answered < 5) {
    const index = talker.frames.length;
    await talker.waitFrame("heartbeat", undefined, { from: index });
    talker.send({ type: "heartbeat", at: new Date().toISOString() });
    answered++;
  }
  expect((await silent.closed).code).toBe(CLOSE.peerTimeout);
  // It heard heartbeats before it was given up on.
  expect(silent.frames.some((f) => f.type === "heartbeat")).toBe(true);
  await waitFor(
    "the silent host to be marked disconnected",
    async () => (await hostRow(silentIdentity.hostId)).connectedReplica === null,
  );
  // Keep the talker going until it has outlived the peer timeout by a wide margin.
  while (answered < 15) {
    await talker.waitFrame("heartbeat", undefined, { from: talker.frames.length });
    talker.send({ type: "heartbeat", at: new Date().toISOString() });
    answered++;
  }
  expect(talker.isOpen()).toBe(true);
  talker.close();
});

test("frames from an agent move last_seen_at forward in batches", async () => {
  const identity = await insertEnrolledHost(deps().database.db, tenantId, "web-4");
  const client = await connectAgent(server.wsUrl, identity);
  const longAgo = new Date("2020-01-01T00:00:00Z");
  await deps().database.db.update(hosts).set({ lastSeenAt: longAgo })
    .where(eq(hosts.id, identity.hostId));
  // A host written within the resolution waits for a later frame, as it would for the next
  // heartbeat: keep talking.
  await waitFor("last_seen_at to move", async () => {
    client.send({ type: "heartbeat", at: new Date().toISOString() });
    return (await hostRow(identity.hostId)).lastSeenAt!.getTime() > longAgo.getTime();
  });
  client.close();
});

test("a second socket for the same host replaces the first", async () => {
  const identity = await insertEnrolledHost(deps().database.db, tenantId, "web-5");
  const first = await connectAgent(server.wsUrl, identity);
  const second = await connectAgent(server.wsUrl, identity);
  expect((await first.closed).code).toBe(CLOSE.replaced);
  expect(second.isOpen()).toBe(true);
  expect(hub().isConnected(identity.hostId)).toBe(true);
  // The replaced socket's close must not mark the host disconnected: a round trip through the
  // surviving socket shows every earlier write has happened.
  await deps().database.db.transaction((tx) => bumpDesiredRevision(tx, identity.hostId));
  await second.waitFrame("desired_state", (f) => f.state.revision === 2);
  expect((await hostRow(identity.hostId)).connectedReplica).toBe(deps().replicaId);
  second.close();
});

test("stopping the hub closes its sockets and marks its hosts disconnected", async () => {
  const replica = await startAgentServer({ database: server.testApp.database, hub: HUB });
  const identity = await insertEnrolledHost(deps().database.db, tenantId, "web-6");
  const client = await connectAgent(replica.wsUrl, identity);
  expect(replica.testApp.deps.agentHub.connectedCount()).toBe(1);
  await replica.close();
  expect((await client.closed).code).toBe(1001);
  expect((await hostRow(identity.hostId)).connectedReplica).toBeNull();
});

test("a plain GET is told to upgrade, and an app without WebSockets answers 501", async () => {
  const plain = await fetch(`${server.baseUrl}${AGENT_SOCKET_PATH}`);
  expect(plain.status).toBe(400);
  await plain.body?.cancel();

  const noSockets = await createTestApp({ database: server.testApp.database });
  const res = await noSockets.app.request(AGENT_SOCKET_PATH);
  expect(res.status).toBe(501);
  expect(((await res.json()) as { error: { message: string } }).error.message).toContain(
    "WebSocket",
  );
  await noSockets.close();
});
