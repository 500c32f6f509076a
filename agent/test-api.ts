// Test-only: a small Bun.serve that plays the API's side of the agent protocol (enrolment, the
// challenge, welcome, desired state, signed commands), so agent tests never depend on api/.
import type { Server, ServerWebSocket } from "bun";
import type { CommandEnvelope } from "./protocol/commands.ts";
import { toBase64Url } from "./protocol/encoding.ts";
import { AGENT_SOCKET_PATH, ENROL_PATH, EnrolRequest } from "./protocol/enrolment.ts";
import { AgentFrame, type ServerFrame } from "./protocol/frames.ts";
import { encodeFrame, parseFrame } from "./protocol/parse-frame.ts";
import { authMessage, importPublicKey, verifyText } from "./protocol/signing.ts";
import { CLOSE } from "./protocol/version.ts";
import { createTestSigner, testEnvelope, type TestSigner } from "./test-fixtures.ts";
import { waitFor } from "../scripts/testing/wait.ts";

interface Conn {
  id: number;
  nonce: string;
  authed: boolean;
}

/** One frame the fake API received, with the connection it came on. */
export interface Received {
  conn: number;
  frame: AgentFrame;
}

/** The fake API and what it saw. */
export interface FakeApi {
  url: string;
  hostId: string;
  signer: TestSigner;
  /** The agent key it accepts; set by enrolment or by the test. */
  agentPublicKey: string | null;
  received: Received[];
  /** Text the agent sent that did not parse as an AgentFrame. */
  rejectedText: string[];
  /** Close codes of agent connections, as the server saw them. */
  closes: { conn: number; code: number; reason: string }[];
  /** Authenticated connections so far. */
  welcomed: number;
  revision: number;
  send(frame: ServerFrame): void;
  sendRaw(text: string): void;
  /** Signs and sends a command; returns its envelope. */
  command(overrides?: Partial<CommandEnvelope>): Promise<CommandEnvelope>;
  /** Closes the current agent connection from the server side. */
  disconnect(code?: number): void;
  /** Waits until a received frame matches. */
  waitForFrame(
    what: string,
    match: (r: Received) => boolean,
    timeoutMs?: number,
  ): Promise<Received>;
  framesOf<T extends AgentFrame["type"]>(type: T): Extract<AgentFrame, { type: T }>[];
  stop(): Promise<void>;
}

/** Starts the fake API on a loopback port; `enrolToken` is the one token it accepts. */
export async function startFakeApi(options: {
  hostId?: string;
  agentPublicKey?: string;
  enrolToken?: string;
  /** When false the server never answers a challenge reply (to test timeouts). */
  welcome?: boolean;
} = {}): Promise<FakeApi> {
  const signer = await createTestSigner();
  let socket: ServerWebSocket<Conn> | null = null;
  let nextId = 0;
  const api: FakeApi = {
    url: "",
    hostId: options.hostId ?? `host_${crypto.randomUUID().slice(0, 8)}`,
    signer,
    agentPublicKey: options.agentPublicKey ?? null,
    received: [],
    rejectedText: [],
    closes: [],
    welcomed: 0,
    revision: 1,
    send: (frame) => socket?.send(encodeFrame(frame)),
    sendRaw: (text) => socket?.send(text),
    async command(overrides) {
      const envelope = testEnvelope(api.hostId, overrides);
      api.send(await signer.sign(envelope));
      return envelope;
    },
    disconnect: (code = CLOSE.normal) => socket?.close(code, "test disconnect"),
    async waitForFrame(what, match, timeoutMs = 10_000) {
      let found: Received | undefined;
      await waitFor(what, () => (found = api.received.find(match)) !== undefined, timeoutMs, 10);
      return found!;
    },
    framesOf: <T extends AgentFrame["type"]>(type: T) =>
      api.received.map((r) => r.frame).filter((f): f is Extract<AgentFrame, { type: T }> =>
        f.type === type
      ),
    async stop() {
      await server.stop(true);
    },
  };

  const sendTo = (ws: ServerWebSocket<Conn>, frame: ServerFrame) => ws.send(encodeFrame(frame));
  const onAuth = async (
    ws: ServerWebSocket<Conn>,
    frame: Extract<AgentFrame, { type: "auth" }>,
  ) => {
    const key = api.agentPublicKey ? await importPublicKey(api.agentPublicKey) : null;
    const ok = key !== null && frame.hostId === api.hostId && frame.nonce === ws.data.nonce &&
      (await verifyText(key, authMessage(frame), frame.signature));
    if (!ok) {
      sendTo(ws, { type: "error", code: "auth_failed", message: "authentication failed" });
      ws.close(CLOSE.authFailed, "auth failed");
      return;
    }
    if (options.welcome === false) return;
    ws.data.authed = true;
    api.welcomed += 1;
    sendTo(ws, { type: "welcome", hostId: api.hostId, serverTime: new Date().toISOString() });
  };

  const server: Server<Conn> = Bun.serve<Conn>({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req, srv) {
      const path = new URL(req.url).pathname;
      if (path === AGENT_SOCKET_PATH) {
        const nonce = toBase64Url(crypto.getRandomValues(new Uint8Array(32)));
        if (srv.upgrade(req, { data: { id: ++nextId, nonce, authed: false } })) return undefined;
        return new Response("upgrade required", { status: 426 });
      }
      if (path === ENROL_PATH && req.method === "POST") {
        const parsed = EnrolRequest.safeParse(await req.json().catch(() => null));
        if (!parsed.success || parsed.data.token !== options.enrolToken) {
          const error = { code: "bad_request", message: "the enrolment token is invalid or used" };
          return Response.json({ error }, { status: 400 });
        }
        api.agentPublicKey = parsed.data.publicKey;
        return Response.json({
          hostId: api.hostId,
          apiPublicKey: signer.publicKey,
          wsPath: AGENT_SOCKET_PATH,
        });
      }
      return new Response("not found", { status: 404 });
    },
    websocket: {
      maxPayloadLength: 4 * 1024 * 1024,
      open(ws) {
        socket = ws;
        sendTo(ws, {
          type: "challenge",
          nonce: ws.data.nonce,
          serverTime: new Date().toISOString(),
        });
      },
      async message(ws, message) {
        const parsed = parseFrame(message, AgentFrame);
        if (!parsed.ok) {
          api.rejectedText.push(String(message));
          return;
        }
        api.received.push({ conn: ws.data.id, frame: parsed.frame });
        if (parsed.frame.type === "auth") await onAuth(ws, parsed.frame);
        if (parsed.frame.type === "hello" && ws.data.authed) {
          const state = { hostId: api.hostId, revision: api.revision, sites: [] };
          sendTo(ws, { type: "desired_state", state });
        }
      },
      close(ws, code, reason) {
        api.closes.push({ conn: ws.data.id, code, reason });
        if (socket === ws) socket = null;
      },
    },
  });
  api.url = `http://127.0.0.1:${server.port}`;
  return api;
}
