// Hostile and broken frames on the agent socket: refused with an error reply, never a crash or a
// state change; oversized ones close with 1009; a flood of bad ones closes the socket.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { CLOSE, MAX_FRAME_BYTES, PROTOCOL_VERSION } from "../../agent/protocol/version.ts";
import { hosts } from "../../db/schema.ts";
import { type AgentServer, startAgentServer } from "../../scripts/testing/agent-server.ts";
import { addTestTenant } from "../../scripts/testing/members.ts";
import {
  type AgentIdentity,
  answerChallenge,
  helloFrame,
  insertEnrolledHost,
  openAgentSocket,
  type ProtocolClient,
} from "../../scripts/testing/protocol-client.ts";

let server: AgentServer;
let tenantId: string;

beforeAll(async () => {
  server = await startAgentServer({ hub: { maxBadFrames: 5 } });
  tenantId = await addTestTenant(server.testApp, "Acme");
});
afterAll(() => server.close());

const db = () => server.testApp.deps.database.db;

// A socket that has passed the challenge (welcome received) but not yet said hello.
async function authenticated(name: string): Promise<[ProtocolClient, AgentIdentity]> {
  const identity = await insertEnrolledHost(db(), tenantId, name);
  const client = await openAgentSocket(server.wsUrl);
  await answerChallenge(client, identity);
  await client.waitFrame("welcome");
  return [client, identity];
}

// Sends `raw` and returns the error it earned.
async function errorFor(client: ProtocolClient, raw: string) {
  const from = client.frames.length;
  client.sendRaw(raw);
  return await client.waitFrame("error", undefined, { from });
}

const now = () => new Date().toISOString();

test("malformed JSON, unknown types and __proto__ keys get an error and change nothing", async () => {
  const [client, identity] = await authenticated("web-1");
  expect((await errorFor(client, "{not json")).code).toBe("malformed_frame");
  expect((await errorFor(client, JSON.stringify({ type: "reboot" }))).code).toBe(
    "malformed_frame",
  );
  const polluted = `{"type":"heartbeat","at":"${now()}","__proto__":{"admin":true}}`;
  expect((await errorFor(client, polluted)).message).toContain("forbidden key");
  const nested = JSON.stringify(helloFrame()).replace('"facts":{', '"facts":{"constructor":{},');
  expect((await errorFor(client, nested)).code).toBe("malformed_frame");
  expect(({} as Record<string, unknown>).admin).toBeUndefined();

  // Nothing was stored, and the connection still works: hello now gets the desired state.
  const [row] = await db().select().from(hosts).where(eq(hosts.id, identity.hostId));
  expect(row!.agentVersion).toBeNull();
  client.send(helloFrame());
  expect((await client.waitFrame("desired_state")).state.hostId).toBe(identity.hostId);
  expect(client.isOpen()).toBe(true);
  client.close();
});

test("frames out of order are refused without changing the connection's state", async () => {
  const client = await openAgentSocket(server.wsUrl);
  await client.waitFrame("challenge");
  // Before authenticating, nothing but an answer to the challenge is accepted.
  const early = await errorFor(client, JSON.stringify(helloFrame()));
  expect(early.code).toBe("unexpected_frame");
  const ack = await errorFor(client, JSON.stringify({ type: "command_ack", commandId: "cmd_x" }));
  expect(ack.code).toBe("unexpected_frame");
  client.close();

  const [ready] = await authenticated("web-2");
  const report = JSON.stringify({ type: "command_ack", commandId: "cmd_x" });
  expect((await errorFor(ready, report)).code).toBe("unexpected_frame");
  ready.send(helloFrame());
  await ready.waitFrame("desired_state");
  expect((await errorFor(ready, JSON.stringify(helloFrame()))).code).toBe("unexpected_frame");
  expect(ready.isOpen()).toBe(true);
  ready.close();
});

test("a frame over 1 MiB closes the socket with 1009", async () => {
  const [client] = await authenticated("web-3");
  client.sendRaw(`"${"x".repeat(MAX_FRAME_BYTES - 1)}"`);
  const closed = await client.closed;
  expect(closed.code).toBe(CLOSE.messageTooBig);
  expect((await client.waitFrame("error")).code).toBe("frame_too_large");
});

test("a frame of exactly 1 MiB is read, and refused only for what it says", async () => {
  const [client] = await authenticated("web-4");
  const [head, tail] = ['{"type":"reboot","pad":"', '"}'];
  const padded = head + "x".repeat(MAX_FRAME_BYTES - head.length - tail.length) + tail;
  expect(new TextEncoder().encode(padded).length).toBe(MAX_FRAME_BYTES);
  expect((await errorFor(client, padded)).code).toBe("malformed_frame");
  expect(client.isOpen()).toBe(true);
  client.close();
});

test("too many bad frames close the socket", async () => {
  const [client] = await authenticated("web-5");
  for (let i = 0; i < 5; i++) client.sendRaw("{");
  expect((await client.closed).code).toBe(1008);
  expect(client.frames.filter((f) => f.type === "error").length).toBe(5);
});

test("an agent speaking another protocol version is refused", async () => {
  const [client, identity] = await authenticated("web-6");
  client.send(helloFrame({ protocolVersion: PROTOCOL_VERSION + 1 }));
  const error = await client.waitFrame("error");
  expect(error.code).toBe("unsupported_protocol");
  expect((await client.closed).code).toBe(CLOSE.unsupportedProtocol);
  const [row] = await db().select().from(hosts).where(eq(hosts.id, identity.hostId));
  expect(row!.connectedReplica).toBeNull();
  expect(row!.agentVersion).toBeNull();
});
