// The agent's end of the socket: dial out, prove who we are by signing the API's challenge, send
// hello, then pass desired states and commands on. Heartbeats both ways; a silent API is dropped
// and redialled with capped, jittered backoff.
import type { AgentFrame, ServerFrame } from "./protocol/frames.ts";
import { ServerFrame as ServerFrameSchema } from "./protocol/frames.ts";
import { encodeFrame, parseFrame } from "./protocol/parse-frame.ts";
import { authMessage, signText } from "./protocol/signing.ts";
import { CLOSE, TIMING } from "./protocol/version.ts";
import { BACKOFF_RESET_AFTER_MS, backoffDelay, RECONNECT_BACKOFF } from "./backoff.ts";
import { type Log, silentLog } from "./log.ts";

/** Timings of the connection; tests shrink them. */
export interface HubTiming {
  heartbeatMs: number;
  peerTimeoutMs: number;
  backoffBaseMs: number;
  backoffCapMs: number;
  backoffResetMs: number;
}

/** The agreed timings. */
export const DEFAULT_HUB_TIMING: HubTiming = {
  heartbeatMs: TIMING.heartbeatMs,
  peerTimeoutMs: TIMING.peerTimeoutMs,
  backoffBaseMs: RECONNECT_BACKOFF.baseMs,
  backoffCapMs: RECONNECT_BACKOFF.capMs,
  backoffResetMs: BACKOFF_RESET_AFTER_MS,
};

/** The `hello` frame without its type; built fresh for each connection. */
export type HelloBody = Omit<Extract<AgentFrame, { type: "hello" }>, "type">;

/** Frames the API sends once the agent is welcomed. */
export type SessionFrame = Extract<ServerFrame, { type: "desired_state" | "command" }>;

/** Dependencies and hooks of the client. */
export interface HubClientOptions {
  /** `ws(s)://…/api/v1/agent/ws`. */
  url: string;
  hostId: string;
  privateKey: CryptoKey;
  hello: () => Promise<HelloBody>;
  onFrame: (frame: SessionFrame) => void;
  onConnected?: () => void;
  onDisconnected?: (info: { code: number; reason: string }) => void;
  /** Test hook: return false to drop an outgoing frame (e.g. a `command_ack`). */
  outboundFilter?: (frame: AgentFrame) => boolean;
  timing?: Partial<HubTiming>;
  now?: () => Date;
  random?: () => number;
  log?: Log;
}

/** The running client. */
export interface HubClient {
  start(): void;
  /** Closes the socket and stops redialling. */
  stop(): void;
  /** Sends a frame if a welcomed connection is open; false when it was not sent. */
  send(frame: AgentFrame): boolean;
  isConnected(): boolean;
}

// Close codes that mean the API will not take this agent as it is; it keeps retrying, slowly.
const REFUSALS: Record<number, string> = {
  [CLOSE.authFailed]: "the API did not accept this agent's identity",
  [CLOSE.revoked]: "the API says this host was revoked; enrol it again",
  [CLOSE.unsupportedProtocol]: "the API does not speak this agent's protocol version; upgrade it",
};

interface Session {
  ws: WebSocket;
  /** `hello` is the gap between the welcome and our hello frame going out. */
  phase: "challenge" | "auth" | "hello" | "ready" | "closed";
  openedAt: number | null;
  lastHeard: number;
  timers: ReturnType<typeof setInterval>[];
}

/** Builds the client; `start()` dials. */
export function createHubClient(options: HubClientOptions): HubClient {
  const timing = { ...DEFAULT_HUB_TIMING, ...options.timing };
  const log = options.log ?? silentLog;
  const now = options.now ?? (() => new Date());
  let current: Session | null = null;
  let stopped = false;
  let attempt = 0;
  let redial: ReturnType<typeof setTimeout> | null = null;

  // The one way out: every frame, handshake included, passes the test hook.
  const transmit = (session: Session, frame: AgentFrame): boolean => {
    if (session.phase === "closed" || session.ws.readyState !== WebSocket.OPEN) return false;
    if (options.outboundFilter && !options.outboundFilter(frame)) return false;
    session.ws.send(encodeFrame(frame));
    return true;
  };

  const connect = () => {
    redial = null;
    if (stopped) return;
    const ws = new WebSocket(options.url);
    ws.binaryType = "arraybuffer";
    const session: Session = {
      ws,
      phase: "challenge",
      openedAt: null,
      lastHeard: performance.now(),
      timers: [],
    };
    current = session;
    ws.onopen = () => {
      session.openedAt = performance.now();
      session.lastHeard = performance.now();
    };
    ws.onmessage = (event: MessageEvent) => {
      receive(session, event.data).catch((err) => {
        log.error("handling a frame from the API failed", { err });
        drop(session, 1011, "agent error");
      });
    };
    ws.onclose = (event: CloseEvent) => finish(session, event.code, event.reason);
    ws.onerror = () => {}; // a close event always follows
    // The watchdog also covers a dial that never completes and an API that never challenges.
    const checkMs = Math.max(10, Math.min(1_000, timing.peerTimeoutMs / 4));
    session.timers.push(setInterval(() => {
      if (performance.now() - session.lastHeard > timing.peerTimeoutMs) {
        log.warn("no frame from the API in time; reconnecting", { after: timing.peerTimeoutMs });
        drop(session, CLOSE.peerTimeout, "no frame from the API in time");
      }
    }, checkMs));
  };

  const receive = async (session: Session, data: unknown) => {
    if (session.phase === "closed") return;
    session.lastHeard = performance.now();
    const raw = typeof data === "string" || data instanceof ArrayBuffer ? data : String(data);
    const parsed = parseFrame(raw, ServerFrameSchema);
    if (!parsed.ok) {
      log.warn("bad frame from the API", { code: parsed.code, message: parsed.message });
      if (parsed.tooLarge) drop(session, CLOSE.messageTooBig, "frame too large");
      else transmit(session, { type: "error", code: parsed.code, message: parsed.message });
      return;
    }
    const frame = parsed.frame;
    if (frame.type === "heartbeat") return;
    if (frame.type === "error") {
      log.warn("the API reported an error", { code: frame.code, message: frame.message });
      return;
    }
    if (session.phase === "challenge" && frame.type === "challenge") {
      session.phase = "auth";
      const skew = Math.abs(Date.parse(frame.serverTime) - now().getTime());
      if (skew > TIMING.clockSkewMs) {
        log.error("this host's clock differs from the API's; authentication will fail", { skew });
      }
      const signedAt = now().toISOString();
      const message = authMessage({ nonce: frame.nonce, hostId: options.hostId, signedAt });
      const signature = await signText(options.privateKey, message);
      transmit(session, {
        type: "auth",
        hostId: options.hostId,
        nonce: frame.nonce,
        signedAt,
        signature,
      });
      return;
    }
    if (session.phase === "auth" && frame.type === "welcome") {
      if (frame.hostId !== options.hostId) {
        drop(session, 1008, "welcomed as another host");
        return;
      }
      session.phase = "hello";
      const hello = await options.hello();
      if (session.phase !== "hello" || !transmit(session, { type: "hello", ...hello })) return;
      // Only now may other frames (results, metrics, heartbeats) go out.
      session.phase = "ready";
      session.timers.push(setInterval(() => {
        transmit(session, { type: "heartbeat", at: now().toISOString() });
      }, timing.heartbeatMs));
      log.info("connected to the API", { url: options.url });
      options.onConnected?.();
      return;
    }
    if (session.phase === "ready" && (frame.type === "desired_state" || frame.type === "command")) {
      options.onFrame(frame);
      return;
    }
    transmit(session, {
      type: "error",
      code: "unexpected_frame",
      message: `a ${frame.type} frame is not expected now`,
    });
  };

  // Closing locally must not wait for the peer: a stopped API never answers the close handshake.
  const drop = (session: Session, code: number, reason: string) => {
    const ws = session.ws as WebSocket & { terminate(): void }; // Bun's client can abort at once
    try {
      ws.close(code, reason);
    } catch {
      ws.terminate();
    }
    const reaper = setTimeout(() => {
      if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
    }, 1_000);
    reaper.unref?.();
    finish(session, code, reason);
  };

  const finish = (session: Session, code: number, reason: string) => {
    if (session.phase === "closed") return;
    const wasReady = session.phase === "ready";
    session.phase = "closed";
    for (const timer of session.timers) clearInterval(timer);
    if (current === session) current = null;
    if (wasReady) {
      log.info("disconnected from the API", { code, reason });
      options.onDisconnected?.({ code, reason });
    }
    const refusal = REFUSALS[code];
    if (refusal) log.error(refusal, { code, reason });
    if (stopped) return;
    const lasted = session.openedAt === null ? 0 : performance.now() - session.openedAt;
    if (lasted > timing.backoffResetMs) attempt = 0;
    const delay = backoffDelay(attempt, {
      baseMs: timing.backoffBaseMs,
      capMs: timing.backoffCapMs,
    }, options.random);
    attempt += 1;
    log.debug("redialling", { delayMs: delay, attempt });
    redial = setTimeout(connect, delay);
  };

  return {
    start() {
      if (!current && !redial && !stopped) connect();
    },
    stop() {
      stopped = true;
      if (redial) clearTimeout(redial);
      redial = null;
      if (current) drop(current, CLOSE.normal, "agent stopping");
    },
    send: (frame) => (current?.phase === "ready" ? transmit(current, frame) : false),
    isConnected: () => current?.phase === "ready",
  };
}
