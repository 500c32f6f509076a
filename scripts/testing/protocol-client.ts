// A simulated agent for tests and the bench: speaks the wire protocol over a real WebSocket,
// records every frame it receives, and answers commands with a handler the test supplies.
import type { AgentFrame, ServerFrame } from "../../agent/protocol/frames.ts";
import { ServerFrame as ServerFrameSchema } from "../../agent/protocol/frames.ts";
import type { HostFacts } from "../../agent/protocol/host-report.ts";
import { encodeFrame, parseFrame } from "../../agent/protocol/parse-frame.ts";
import {
  authMessage,
  generateSigningKeyPair,
  importPrivateKey,
  signText,
} from "../../agent/protocol/signing.ts";
import { PROTOCOL_VERSION } from "../../agent/protocol/version.ts";
import type { Db } from "../../db/client.ts";
import { newId } from "../../db/ids.ts";
import { hosts } from "../../db/schema.ts";
import { answerCommand, type ClientOptions } from "./protocol-commands.ts";

/** A host's id and key pair, as an enrolled agent keeps them. */
export interface AgentIdentity {
  hostId: string;
  /** PKCS#8, base64url. */
  privateKey: string;
  /** Raw, base64url. */
  publicKey: string;
}

type HelloFrame = Extract<AgentFrame, { type: "hello" }>;
type AuthFrame = Extract<AgentFrame, { type: "auth" }>;
type FrameOf<T extends ServerFrame["type"]> = Extract<ServerFrame, { type: T }>;

/** Writes an enrolled host row directly, skipping HTTP enrolment; returns its identity. */
export async function insertEnrolledHost(
  db: Db,
  tenantId: string,
  name: string,
): Promise<AgentIdentity> {
  const keys = await generateSigningKeyPair();
  const hostId = newId("host");
  await db.insert(hosts).values({
    id: hostId,
    tenantId,
    name,
    publicKey: keys.publicKey,
    enrolledAt: new Date(),
  });
  return { hostId, ...keys };
}

/** Plausible host facts for a `hello`. */
export function sampleFacts(): HostFacts {
  return {
    hostname: "test-host",
    os: "Debian GNU/Linux 13",
    kernel: "6.12.0",
    arch: "x86_64",
    cpuModel: "Test CPU",
    cpuCount: 2,
    memoryBytes: 4 * 1024 ** 3,
    disk: { path: "/", totalBytes: 100 * 1024 ** 3, freeBytes: 60 * 1024 ** 3 },
  };
}

/** An open socket speaking the agent protocol. */
export interface ProtocolClient {
  /** Every server frame received, in order. */
  frames: ServerFrame[];
  /** Texts from the server that are not valid server frames (a test expects none). */
  unparsed: string[];
  /** Command ids handed to the handler, in order: an id twice means it ran twice. */
  ran: string[];
  send(frame: AgentFrame): void;
  /** Sends any text, valid or not. */
  sendRaw(text: string | Uint8Array): void;
  /** The first frame of `type` matching `match` received at index `from` or later. */
  waitFrame<T extends ServerFrame["type"]>(
    type: T,
    match?: (frame: FrameOf<T>) => boolean,
    options?: { from?: number; timeoutMs?: number },
  ): Promise<FrameOf<T>>;
  /** Settles with the close code and reason once the socket has closed. */
  closed: Promise<{ code: number; reason: string }>;
  isOpen(): boolean;
  close(code?: number): void;
}

/** Opens a socket to `wsUrl` and records what arrives; nothing is sent yet. */
export async function openAgentSocket(
  wsUrl: string,
  options: ClientOptions = {},
): Promise<ProtocolClient> {
  const ws = new WebSocket(wsUrl);
  const frames: ServerFrame[] = [];
  const ran: string[] = [];
  const unparsed: string[] = [];
  const waiters = new Set<() => void>();
  let commandWork = Promise.resolve();
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.onclose = (event) => {
      resolve({ code: event.code, reason: event.reason });
      for (const wake of waiters) wake();
    };
  });
  const send = (frame: AgentFrame) => ws.send(encodeFrame(frame));

  ws.onmessage = (event) => {
    const parsed = parseFrame(String(event.data), ServerFrameSchema);
    if (!parsed.ok) return void unparsed.push(String(event.data));
    frames.push(parsed.frame);
    for (const wake of waiters) wake();
    const frame = parsed.frame;
    const handler = options.onCommand;
    if (frame.type === "command" && handler) {
      commandWork = commandWork.then(() =>
        answerCommand(frame, handler, { ...options, send, ran })
      );
    }
  };
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error(`could not open ${wsUrl}`));
  });

  return {
    frames,
    unparsed,
    ran,
    send,
    sendRaw: (text) => ws.send(text),
    waitFrame(type, match, waitOptions = {}) {
      const timeoutMs = waitOptions.timeoutMs ?? 10_000;
      const find = () =>
        frames.slice(waitOptions.from ?? 0).find((f): f is FrameOf<typeof type> =>
          f.type === type && (!match || match(f as FrameOf<typeof type>))
        );
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = find();
          if (found) return done(() => resolve(found));
          if (ws.readyState >= WebSocket.CLOSING) {
            done(() => reject(new Error(`socket closed before a "${type}" frame arrived`)));
          }
        };
        const timer = setTimeout(
          () => done(() => reject(new Error(`no "${type}" frame within ${timeoutMs} ms`))),
          timeoutMs,
        );
        const done = (settle: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          settle();
        };
        waiters.add(check);
        check();
      });
    },
    closed,
    isOpen: () => ws.readyState === WebSocket.OPEN,
    close: (code = 1000) => ws.close(code),
  };
}

/** Waits for the challenge and answers it as `identity`; overrides forge parts of the answer. */
export async function answerChallenge(
  client: ProtocolClient,
  identity: Pick<AgentIdentity, "hostId" | "privateKey">,
  overrides: { hostId?: string; nonce?: string; signedAt?: string } = {},
): Promise<AuthFrame> {
  const challenge = await client.waitFrame("challenge");
  const answer = {
    nonce: overrides.nonce ?? challenge.nonce,
    hostId: overrides.hostId ?? identity.hostId,
    signedAt: overrides.signedAt ?? new Date().toISOString(),
  };
  const key = await importPrivateKey(identity.privateKey);
  const frame: AuthFrame = {
    type: "auth",
    ...answer,
    signature: await signText(key, authMessage(answer)),
  };
  client.send(frame);
  return frame;
}

/** A `hello` for this protocol version in sandbox mode, with `overrides` applied. */
export function helloFrame(overrides: Partial<HelloFrame> = {}): HelloFrame {
  return {
    type: "hello",
    agentVersion: "0.0.0-test",
    protocolVersion: PROTOCOL_VERSION,
    mode: "sandbox",
    modeReason: "test agent",
    facts: sampleFacts(),
    ...overrides,
  };
}

/**
 * Connects as `identity` all the way: challenge answered, `welcome`, `hello` sent, first
 * `desired_state` received. Commands then go to `options.onCommand`.
 */
export async function connectAgent(
  wsUrl: string,
  identity: Pick<AgentIdentity, "hostId" | "privateKey">,
  options: ClientOptions & { hello?: Partial<HelloFrame> } = {},
): Promise<ProtocolClient> {
  const client = await openAgentSocket(wsUrl, options);
  await answerChallenge(client, identity);
  await client.waitFrame("welcome");
  client.send(helloFrame(options.hello));
  await client.waitFrame("desired_state");
  return client;
}
