import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { generateSigningKeyPair, importPrivateKey } from "./protocol/signing.ts";
import { CLOSE, MAX_FRAME_BYTES, PROTOCOL_VERSION } from "./protocol/version.ts";
import type { AgentFrame } from "./protocol/frames.ts";
import {
  createHubClient,
  type HelloBody,
  type HubClient,
  type HubClientOptions,
  type SessionFrame,
} from "./hub-client.ts";
import { type FakeApi, startFakeApi } from "./test-api.ts";
import { waitFor } from "../scripts/testing/wait.ts";

const FAST = {
  heartbeatMs: 50,
  peerTimeoutMs: 5_000,
  backoffBaseMs: 20,
  backoffCapMs: 100,
  backoffResetMs: 60_000,
};
const facts = {
  hostname: "web-1",
  os: "Debian",
  kernel: "Linux 6",
  arch: "x64",
  cpuModel: "cpu",
  cpuCount: 1,
  memoryBytes: 1,
  disk: { path: "/", totalBytes: 2, freeBytes: 1 },
};

const HELLO: HelloBody = {
  agentVersion: "test",
  protocolVersion: PROTOCOL_VERSION,
  mode: "sandbox",
  modeReason: "test",
  facts,
};

let api: FakeApi;
let client: HubClient | null;
let frames: SessionFrame[];
let connects: number;
let disconnects: { code: number; reason: string }[];

async function connect(options: Partial<HubClientOptions> = {}, welcome = true) {
  api = await startFakeApi({ welcome });
  const keys = await generateSigningKeyPair();
  api.agentPublicKey = keys.publicKey;
  client = createHubClient({
    url: `${api.url.replace("http", "ws")}/api/v1/agent/ws`,
    hostId: api.hostId,
    privateKey: await importPrivateKey(keys.privateKey),
    hello: () => Promise.resolve(HELLO),
    onFrame: (frame) => frames.push(frame),
    onConnected: () => (connects += 1),
    onDisconnected: (info) => disconnects.push(info),
    timing: FAST,
    ...options,
  });
  client.start();
}

beforeEach(() => {
  client = null;
  frames = [];
  connects = 0;
  disconnects = [];
});
afterEach(async () => {
  client?.stop();
  await api.stop();
});

const receivedTypes = () => api.received.map((r) => r.frame.type);

describe("hub client", () => {
  test("answers the challenge with a valid signature, says hello, gets the desired state", async () => {
    await connect();
    await waitFor("the desired state", () => frames.length > 0);
    expect(api.welcomed).toBe(1);
    expect(receivedTypes().slice(0, 2)).toEqual(["auth", "hello"]);
    expect(api.framesOf("hello")[0]).toMatchObject({
      protocolVersion: PROTOCOL_VERSION,
      mode: "sandbox",
    });
    expect(frames[0]).toEqual({
      type: "desired_state",
      state: { hostId: api.hostId, revision: 1, sites: [] },
    });
    expect(connects).toBe(1);
    expect(client!.isConnected()).toBe(true);
    expect(client!.send({ type: "heartbeat", at: new Date().toISOString() })).toBe(true);
  });

  test("sends heartbeats while connected", async () => {
    await connect();
    await waitFor("two heartbeats", () => api.framesOf("heartbeat").length >= 2);
  });

  test("an agent whose key the API does not know fails auth and keeps redialling", async () => {
    await connect();
    await waitFor("the first welcome", () => api.welcomed === 1);
    client!.stop();
    api.agentPublicKey = (await generateSigningKeyPair()).publicKey;
    const before = api.closes.length;
    client = createHubClient({
      url: `${api.url.replace("http", "ws")}/api/v1/agent/ws`,
      hostId: api.hostId,
      privateKey: await importPrivateKey((await generateSigningKeyPair()).privateKey),
      hello: () => Promise.reject(new Error("never welcomed")),
      onFrame: (frame) => frames.push(frame),
      timing: FAST,
    });
    client.start();
    await waitFor(
      "two failed attempts",
      () => api.closes.slice(before).filter((c) => c.code === CLOSE.authFailed).length >= 2,
    );
    expect(api.welcomed).toBe(1);
  });

  test("a frame over the size limit closes the socket with 1009, then it redials", async () => {
    await connect();
    await waitFor("connected", () => connects === 1);
    api.sendRaw(JSON.stringify({ type: "heartbeat", pad: "x".repeat(MAX_FRAME_BYTES) }));
    await waitFor("a 1009 close", () => api.closes.some((c) => c.code === CLOSE.messageTooBig));
    expect(disconnects[0]?.code).toBe(CLOSE.messageTooBig);
    await waitFor("a new connection", () => connects === 2);
  });

  test("a malformed frame gets an error reply and changes nothing", async () => {
    await connect();
    await waitFor("the desired state", () => frames.length === 1);
    api.sendRaw("{not json");
    api.sendRaw(JSON.stringify({ type: "teleport" }));
    api.sendRaw('{"type":"heartbeat","at":"2030-01-01T00:00:00Z","__proto__":{"x":1}}');
    await waitFor("three error replies", () => api.framesOf("error").length === 3);
    expect(api.framesOf("error").map((f) => f.code)).toEqual([
      "malformed_frame",
      "malformed_frame",
      "malformed_frame",
    ]);
    api.send({ type: "desired_state", state: { hostId: api.hostId, revision: 2, sites: [] } });
    await waitFor("the next desired state on the same connection", () => frames.length === 2);
    expect(api.welcomed).toBe(1);
    expect(connects).toBe(1);
  });

  test("a session frame before the welcome is answered unexpected_frame and not passed on", async () => {
    await connect({}, false);
    await waitFor("the auth answer", () => api.framesOf("auth").length === 1);
    api.send({ type: "desired_state", state: { hostId: api.hostId, revision: 9, sites: [] } });
    await waitFor("an error reply", () => api.framesOf("error").length === 1);
    expect(api.framesOf("error")[0]?.code).toBe("unexpected_frame");
    expect(frames).toEqual([]);
  });

  test("an API that goes silent is dropped with peerTimeout and redialled", async () => {
    // The fake API never sends heartbeats, so after the desired state it is silent.
    await connect({ timing: { ...FAST, peerTimeoutMs: 300 } });
    await waitFor(
      "a peer-timeout close",
      () => api.closes.some((c) => c.code === CLOSE.peerTimeout),
    );
    await waitFor("a second connection", () => api.welcomed === 2);
  });

  test("the outbound filter can drop chosen frames", async () => {
    const dropped: AgentFrame[] = [];
    await connect({
      outboundFilter: (frame) => {
        if (frame.type !== "heartbeat") return true;
        dropped.push(frame);
        return false;
      },
    });
    await waitFor("two dropped heartbeats", () => dropped.length >= 2);
    expect(api.framesOf("heartbeat")).toEqual([]);
  });

  test("stop closes the socket normally and sends nothing more", async () => {
    await connect();
    await waitFor("connected", () => connects === 1);
    client!.stop();
    await waitFor("the close", () => api.closes.length === 1);
    expect(api.closes[0]?.code).toBe(CLOSE.normal);
    expect(client!.isConnected()).toBe(false);
    expect(client!.send({ type: "heartbeat", at: new Date().toISOString() })).toBe(false);
  });
});
