// One agent socket on the API side, as a state machine: challenged → authenticating →
// authenticated (welcome sent) → ready (hello stored, desired state and commands flow) → closed.
// Frames are handled one at a time in arrival order; a bad or out-of-place frame gets an `error`
// reply and changes nothing.
import type { WSContext, WSMessageReceive } from "hono/ws";
import { toBase64Url } from "../../agent/protocol/encoding.ts";
import {
  AgentFrame,
  type ProtocolErrorCode,
  type ServerFrame,
} from "../../agent/protocol/frames.ts";
import { encodeFrame, type ParsedFrame, parseFrame } from "../../agent/protocol/parse-frame.ts";
import { CLOSE, MAX_FRAME_BYTES } from "../../agent/protocol/version.ts";
import type { HostRef } from "../services/agent-commands.ts";
import { admitAgent, type AuthFrame } from "./agent-auth.ts";
import type { HelloFrame } from "../services/agent-sessions.ts";
import { greetAgent, markOnline } from "./agent-hello.ts";
import { handleReport, type SocketMemory } from "./agent-reports.ts";
import type { ConnectionState, HubLink } from "./hub-link.ts";
import {
  createHostOutbox,
  type DeliveryRequest,
  type DirectDelivery,
  type HostOutbox,
} from "./host-outbox.ts";

// RFC 6455 codes for closes the protocol's own list does not cover.
const POLICY_VIOLATION = 1008;
const INTERNAL_ERROR = 1011;
// An agent sends a few frames a minute; this many waiting to be handled means a flood.
const MAX_QUEUED_FRAMES = 64;

/** One agent socket; the hub creates it for each upgrade and feeds it the socket's events. */
export class AgentConnection {
  state: ConnectionState = "challenged";
  /** Set once the challenge answer verified. */
  host: HostRef | undefined;
  /** When the last frame arrived (HubLink.clock). */
  lastFrameAt: number;
  private ws: WSContext | undefined;
  private readonly nonce = toBase64Url(crypto.getRandomValues(new Uint8Array(32)));
  private badFrames = 0;
  private queued = 0;
  private work: Promise<void> = Promise.resolve();
  private challengeTimer: ReturnType<typeof setTimeout> | undefined;
  private outbox: HostOutbox | undefined;
  // Results received but not yet handled, by command id: an acknowledgement handled while its
  // command's result already waits behind it needs no write of its own (see handleReport).
  private readonly resultsWaiting = new Map<string, number>();
  private readonly memory: SocketMemory = {
    resultWaiting: (commandId) => this.resultsWaiting.has(commandId),
  };

  constructor(private readonly link: HubLink, private readonly ip: string | undefined) {
    this.lastFrameAt = link.clock();
  }

  /** The socket opened: send the challenge and start the clock on its answer. */
  open(ws: WSContext): void {
    this.ws = ws;
    this.send({
      type: "challenge",
      nonce: this.nonce,
      serverTime: this.link.deps.now().toISOString(),
    });
    const timeoutMs = this.link.timing.challengeTimeoutMs;
    this.challengeTimer = setTimeout(() => {
      if (this.host || this.isClosed()) return;
      this.close(CLOSE.authFailed, "challenge not answered", {
        code: "auth_failed",
        message: `no valid answer to the challenge within ${timeoutMs} ms`,
      });
    }, timeoutMs);
  }

  /** A message arrived: oversized ones close the socket at once, the rest queue in order. */
  receive(data: WSMessageReceive): void {
    if (this.isClosed()) return;
    this.lastFrameAt = this.link.clock();
    if (this.host) this.link.heard(this.host.id);
    const parsed = typeof data === "string"
      ? parseFrame(data, AgentFrame)
      : data instanceof Blob
      ? binaryBlob(data.size)
      : parseFrame(new Uint8Array(data), AgentFrame);
    if (!parsed.ok && parsed.tooLarge) {
      return this.close(CLOSE.messageTooBig, "frame too large", parsed);
    }
    if (++this.queued > MAX_QUEUED_FRAMES) {
      return this.close(POLICY_VIOLATION, "too many frames in flight");
    }
    const result = parsed.ok && parsed.frame.type === "command_result"
      ? parsed.frame.commandId
      : undefined;
    if (result !== undefined) this.countResult(result, 1);
    this.work = this.work.then(async () => {
      try {
        await this.handle(parsed);
      } catch (err) {
        this.failed(err);
      } finally {
        this.queued--;
        if (result !== undefined) this.countResult(result, -1);
      }
    });
  }

  /** Resolves once every frame received so far has been handled. */
  settled(): Promise<void> {
    return this.work;
  }

  /** The hub's sweep: closes the socket when the peer has been silent too long. */
  tick(now: number): void {
    if (this.isClosed()) return;
    if (now - this.lastFrameAt > this.link.timing.peerTimeoutMs) {
      this.link.deps.log.info({ hostId: this.host?.id }, "agent hub: silent agent disconnected");
      this.close(CLOSE.peerTimeout, "peer timeout");
    }
  }

  /** The hub's heartbeat for an authenticated socket (its turn came: see heartbeat-wheel.ts). */
  heartbeat(): void {
    if (this.host) this.send({ type: "heartbeat", at: this.link.deps.now().toISOString() });
  }

  /** Sends desired state and/or commands, if the agent has said hello. */
  deliver(what: DeliveryRequest): void {
    if (this.state === "ready") void this.outbox?.request(what);
  }

  /** The desired revision this socket was last sent (see HostOutbox.desiredRevision). */
  desiredRevision(): number | undefined {
    return this.outbox?.desiredRevision();
  }

  /** Reserves a command about to be written for a direct send (see HostOutbox.reserve). */
  reserve(commandId: string): DirectDelivery | undefined {
    return this.state === "ready" ? this.outbox?.reserve(commandId) : undefined;
  }

  /** Closes the socket, after an `error` frame saying why when one is given. */
  close(code: number, reason: string, error?: { code: ProtocolErrorCode; message: string }): void {
    if (this.isClosed()) return;
    if (error) {
      this.send({ type: "error", code: error.code, message: error.message.slice(0, 1000) });
    }
    this.finish();
    try {
      this.ws?.close(code, reason);
    } catch {
      // Already closing: nothing more to tell the peer.
    }
  }

  /** The socket closed (either side): stop timers and deliveries, let the hub forget it. */
  finish(): void {
    if (this.isClosed()) return;
    this.state = "closed";
    clearTimeout(this.challengeTimer);
    this.outbox?.stop();
    this.link.release(this);
  }

  private countResult(commandId: string, delta: number): void {
    const count = (this.resultsWaiting.get(commandId) ?? 0) + delta;
    if (count > 0) this.resultsWaiting.set(commandId, count);
    else this.resultsWaiting.delete(commandId);
  }

  private isClosed(): boolean {
    return this.state === "closed";
  }

  private send(frame: ServerFrame): boolean {
    if (this.isClosed() || !this.ws) return false;
    try {
      this.ws.send(encodeFrame(frame));
      return true;
    } catch {
      return false;
    }
  }

  private async handle(parsed: ParsedFrame<AgentFrame>): Promise<void> {
    if (this.isClosed()) return;
    if (!parsed.ok) return this.refuse(parsed.code, parsed.message);
    const frame = parsed.frame;
    switch (frame.type) {
      case "auth":
        if (this.state !== "challenged") return this.unexpected(frame.type);
        return await this.authenticate(frame);
      case "hello":
        if (this.state !== "authenticated" || !this.host) return this.unexpected(frame.type);
        return await this.hello(this.host, frame);
      case "heartbeat":
        if (!this.host) return this.unexpected(frame.type);
        return;
      case "error":
        this.link.deps.log.warn(
          { hostId: this.host?.id, code: frame.code, message: frame.message },
          "agent hub: the agent reported an error",
        );
        return;
      default:
        if (this.state !== "ready" || !this.host || !this.outbox) {
          return this.unexpected(frame.type);
        }
        return await handleReport(this.link.deps, this.host, this.outbox, frame, this.memory);
    }
  }

  private async authenticate(frame: AuthFrame): Promise<void> {
    this.state = "authenticating";
    const deps = this.link.deps;
    const host = await admitAgent(deps, frame, {
      nonce: this.nonce,
      clockSkewMs: this.link.timing.clockSkewMs,
      ip: this.ip,
    });
    if (this.isClosed()) return;
    if (!host) {
      return this.close(CLOSE.authFailed, "authentication failed", {
        code: "auth_failed",
        message: "the challenge answer was not accepted",
      });
    }
    clearTimeout(this.challengeTimer);
    this.host = host;
    this.state = "authenticated";
    this.outbox = createHostOutbox(deps, host.id, (f) => this.send(f));
    this.link.adopt(this);
    this.send({ type: "welcome", hostId: host.id, serverTime: deps.now().toISOString() });
  }

  private async hello(host: HostRef, frame: HelloFrame): Promise<void> {
    const refusal = await greetAgent(this.link.deps, host, frame);
    if (this.isClosed()) return;
    if (refusal) return this.close(refusal.close, refusal.reason, refusal.error);
    this.state = "ready";
    this.deliver({ desired: true, commands: true });
    await markOnline(this.link.deps, host);
  }

  private unexpected(type: string): void {
    this.refuse("unexpected_frame", `a "${type}" frame is not expected now (${this.state})`);
  }

  private refuse(code: ProtocolErrorCode, message: string): void {
    this.badFrames++;
    this.send({ type: "error", code, message: message.slice(0, 1000) });
    if (this.badFrames >= this.link.timing.maxBadFrames) {
      this.close(POLICY_VIOLATION, "too many bad frames");
    }
  }

  private failed(err: unknown): void {
    this.link.deps.log.error({ err, hostId: this.host?.id }, "agent hub: a frame failed");
    // A report the API could not store (a database blip) must not be lost, and the agent will not
    // send it again on this socket: closing makes it reconnect, the API re-sends the host's open
    // commands, and the agent answers those from its journal.
    this.close(INTERNAL_ERROR, "internal error", internalError);
  }
}

const internalError = {
  code: "internal" as const,
  message: "the API could not handle this frame; it was not applied; reconnect",
};

// Blobs arrive only from runtimes that do not buffer binary frames; agents send text.
function binaryBlob(size: number): ParsedFrame<AgentFrame> {
  return size > MAX_FRAME_BYTES
    ? { ok: false, code: "frame_too_large", message: `frame of ${size} bytes`, tooLarge: true }
    : { ok: false, code: "malformed_frame", message: "frames must be JSON text", tooLarge: false };
}
