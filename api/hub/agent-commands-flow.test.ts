// Commands through the hub: queued commands reach a connecting agent, one per site at a time,
// acknowledgements and results move the row along, an unanswered command is re-sent on
// reconnect, and with two API replicas on one database the one holding the socket delivers.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { CLOSE } from "../../agent/protocol/version.ts";
import { openDatabase } from "../../db/client.ts";
import { agentCommands, hostAlerts, hostMetrics } from "../../db/schema.ts";
import { newId } from "../../db/ids.ts";
import { type AgentServer, startAgentServer } from "../../scripts/testing/agent-server.ts";
import type { TestDatabase } from "../../scripts/testing/db.ts";
import { addTestTenant } from "../../scripts/testing/members.ts";
import {
  type AgentIdentity,
  connectAgent,
  insertEnrolledHost,
  type ProtocolClient,
} from "../../scripts/testing/protocol-client.ts";
import { randomAgentSigningKey } from "../../scripts/testing/secrets.ts";
import { waitFor } from "../../scripts/testing/wait.ts";
import { enqueueCommand, type HostRef } from "../services/agent-commands.ts";
import { notifyHostEvent } from "../services/host-events.ts";

let a: AgentServer;
let b: AgentServer;
let bDatabase: TestDatabase;
let tenantId: string;
let apiPublicKey: string;

// On a server, replica B gets connections of its own, so NOTIFY really crosses connections;
// PGlite is one engine per process, so there the replicas share it.
async function ownConnection(database: TestDatabase): Promise<TestDatabase> {
  if (!database.url) return database;
  return {
    ...(await openDatabase({ url: database.url })),
    url: database.url,
    rawSql: database.rawSql,
  };
}

beforeAll(async () => {
  const env = { CADDIS_AGENT_SIGNING_KEY: randomAgentSigningKey() };
  a = await startAgentServer({ env });
  bDatabase = await ownConnection(a.testApp.database);
  b = await startAgentServer({ database: bDatabase, env });
  tenantId = await addTestTenant(a.testApp, "Acme");
  apiPublicKey = a.testApp.deps.commandSigner.publicKey;
});
afterAll(async () => {
  await b.close();
  if (bDatabase !== a.testApp.database) await bDatabase.close();
  await a.close();
});

const db = () => a.testApp.deps.database.db;

async function enrolled(name: string): Promise<[AgentIdentity, HostRef]> {
  const identity = await insertEnrolledHost(db(), tenantId, name);
  return [identity, { id: identity.hostId, tenantId, name }];
}

// Issues a test command through `server`'s app, as a change in that replica would.
async function issue(server: AgentServer, host: HostRef, siteId: string | null = null) {
  const deps = server.testApp.deps;
  return await deps.database.db.transaction((tx) =>
    enqueueCommand(tx, deps, {
      host,
      siteId,
      kind: "test.echo",
      payload: { n: 1 },
      issuedBy: null,
      ttlMs: 60_000,
    })
  );
}

async function command(id: string) {
  const [row] = await db().select().from(agentCommands).where(eq(agentCommands.id, id));
  if (!row) throw new Error(`no command ${id}`);
  return row;
}

// Waits until the stored command is in `state`.
const reachState = (id: string, state: string) =>
  waitFor(`command ${id} to be ${state}`, async () => (await command(id)).state === state);

const commandFrames = (client: ProtocolClient) =>
  client.frames.filter((f) => f.type === "command").length;

test("a command queued while the host was offline arrives after the desired state", async () => {
  const [identity, host] = await enrolled("web-1");
  const queued = await issue(a, host);
  const client = await connectAgent(a.wsUrl, identity, {
    apiPublicKey,
    onCommand: (envelope) => ({ outcome: "succeeded", result: { echoed: envelope.payload } }),
  });
  await reachState(queued.id, "succeeded");
  const kinds = client.frames.map((f) => f.type);
  expect(kinds.indexOf("desired_state")).toBeLessThan(kinds.indexOf("command"));
  const row = await command(queued.id);
  expect(row.result).toEqual({ echoed: { n: 1 } });
  expect(row.sentAt).toBeInstanceOf(Date);
  expect(row.startedAt).toBeInstanceOf(Date);
  expect(client.ran).toEqual([queued.id]);
  client.close();
});

test("commands for one site go one at a time, in order", async () => {
  const [identity, host] = await enrolled("web-2");
  let release = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  const client = await connectAgent(a.wsUrl, identity, {
    apiPublicKey,
    onCommand: async (envelope) => {
      if (client.ran.length === 1) await held;
      return { outcome: "succeeded", result: { id: envelope.id } };
    },
  });
  const first = await issue(a, host, "site_a");
  const second = await issue(a, host, "site_a");
  await reachState(first.id, "running");
  // A NOTIFY for the second arrived meanwhile; it must wait for the first to end.
  expect(commandFrames(client)).toBe(1);
  expect((await command(second.id)).state).toBe("queued");
  release();
  await reachState(second.id, "succeeded");
  expect(client.ran).toEqual([first.id, second.id]);
  client.close();
});

test("a command the agent never answered is sent again when it reconnects", async () => {
  const [identity, host] = await enrolled("web-3");
  const mute = await connectAgent(a.wsUrl, identity);
  const cmd = await issue(a, host);
  await mute.waitFrame("command");
  await reachState(cmd.id, "sent");
  mute.close();
  await mute.closed;

  const client = await connectAgent(a.wsUrl, identity, {
    apiPublicKey,
    onCommand: () => ({ outcome: "failed", error: "nothing to echo" }),
  });
  await reachState(cmd.id, "failed");
  const row = await command(cmd.id);
  expect(row.deliveries).toBe(2);
  expect(row.error).toBe("nothing to echo");
  client.close();
});

test("an acknowledgement and its result sent together end the command with its start time", async () => {
  const [identity, host] = await enrolled("web-quick");
  const client = await connectAgent(a.wsUrl, identity);
  const cmd = await issue(a, host);
  await client.waitFrame("command");
  await reachState(cmd.id, "sent");
  // Back to back, as a quick command's answers come: the result waits behind the acknowledgement.
  client.send({ type: "command_ack", commandId: cmd.id });
  client.send({
    type: "command_result",
    commandId: cmd.id,
    outcome: "succeeded",
    result: {},
    error: null,
    finishedAt: new Date().toISOString(),
  });
  await reachState(cmd.id, "succeeded");
  const row = await command(cmd.id);
  expect(row.startedAt).toBeInstanceOf(Date);
  expect(row.startedAt?.getTime()).toBeLessThanOrEqual(row.finishedAt?.getTime() ?? 0);
  client.close();
});

test("a command issued through one replica is delivered by the replica holding the socket", async () => {
  const [identity, host] = await enrolled("web-4");
  const client = await connectAgent(a.wsUrl, identity, {
    apiPublicKey,
    onCommand: () => ({ outcome: "succeeded", result: { via: "a" } }),
  });
  expect(a.testApp.deps.agentHub.isConnected(host.id)).toBe(true);
  expect(b.testApp.deps.agentHub.isConnected(host.id)).toBe(false);
  const cmd = await issue(b, host);
  await reachState(cmd.id, "succeeded");
  expect(client.ran).toEqual([cmd.id]);
  // The signature verified against the key both replicas share.
  expect(client.frames.some((f) => f.type === "error")).toBe(false);

  // And the other way round once the agent moves to replica B.
  client.close();
  const moved = await connectAgent(b.wsUrl, identity, {
    apiPublicKey,
    onCommand: () => ({ outcome: "succeeded", result: { via: "b" } }),
  });
  const next = await issue(a, host);
  await reachState(next.id, "succeeded");
  expect(moved.ran).toEqual([next.id]);
  moved.close();
});

test("a revoked host's socket is closed by whichever replica holds it", async () => {
  const [identity, host] = await enrolled("web-5");
  const client = await connectAgent(b.wsUrl, identity);
  await notifyHostEvent(a.testApp.deps.database.db, { event: "revoked", hostId: host.id });
  expect((await client.closed).code).toBe(CLOSE.revoked);
});

test("hello resolves the host's offline alert, and metrics are stored", async () => {
  const [identity, host] = await enrolled("web-6");
  const alertId = newId("alr");
  await db().insert(hostAlerts).values({
    id: alertId,
    hostId: host.id,
    tenantId,
    kind: "offline",
    message: "web-6 has been offline for 3 minutes",
    raisedAt: new Date(),
  });
  const client = await connectAgent(a.wsUrl, identity);
  await waitFor("the alert to be resolved", async () => {
    const [alert] = await db().select().from(hostAlerts).where(eq(hostAlerts.id, alertId));
    return alert?.resolvedAt !== null;
  });
  const at = new Date().toISOString();
  client.send({
    type: "metrics",
    sample: {
      at,
      cpuPercent: 12.5,
      load1: 0.5,
      load5: 0.4,
      load15: 0.3,
      memoryUsedBytes: 1024,
      memoryTotalBytes: 4096,
      diskUsedBytes: 10,
      diskTotalBytes: 100,
    },
  });
  await waitFor(
    "the sample to be stored",
    async () =>
      (await db().select().from(hostMetrics).where(eq(hostMetrics.hostId, host.id))).length === 1,
  );
  client.close();
});
