// One simulated agent of the benchmark swarm. On the wire it does what agent/hub-client.ts and
// agent/dispatch.ts do: answers the challenge with a signed `auth`, sends `hello`, reports observed
// state for each desired state, sends heartbeats, and answers commands (signature, host and
// validity checked, `command_ack`, `command_result`, then observed state again, as the real
// reconciler does after `host.diagnose`). Unlike the real agent it keeps no journal (no fsync),
// sends no metrics, and answers `host.diagnose` from cached facts without spawning tools.
import type { DiagnoseResult } from "../../agent/protocol/commands.ts";
import { type AgentFrame, ServerFrame } from "../../agent/protocol/frames.ts";
import { TOOL_NAMES, type ToolInventory } from "../../agent/protocol/host-report.ts";
import { encodeFrame, parseFrame } from "../../agent/protocol/parse-frame.ts";
import { commandTimeProblem, openCommand } from "../../agent/protocol/open-command.ts";
import { authMessage, signText } from "../../agent/protocol/signing.ts";
import { PROTOCOL_VERSION, TIMING } from "../../agent/protocol/version.ts";
import { wallClockMs } from "./swarm-messages.ts";

/** What every agent of one swarm shares. */
export interface SwarmContext {
  wsUrl: string;
  privateKey: CryptoKey;
  apiKey: CryptoKey;
  /** Called after each command was answered, when the orchestrator watches round trips. */
  onAnswered?: (commandId: string, receivedAt: number, answeredAt: number) => void;
  /** Frames the simulated agent did not expect (an `error`, a malformed frame), for the report. */
  unexpected: (what: string) => void;
}

/** A connected simulated agent. */
export interface SimAgent {
  isOpen(): boolean;
  /** Sends a heartbeat when one is due at `now` (performance.now()). */
  tick(now: number): void;
}

const FACTS = {
  hostname: "bench-host",
  os: "Debian GNU/Linux 13",
  kernel: "6.12.0",
  arch: "x86_64",
  cpuModel: "Bench CPU",
  cpuCount: 2,
  memoryBytes: 4 * 1024 ** 3,
  disk: { path: "/", totalBytes: 100 * 1024 ** 3, freeBytes: 60 * 1024 ** 3 },
};
const INVENTORY: ToolInventory = Object.fromEntries(
  TOOL_NAMES.map((name) => [name, { present: false, path: null, version: null }]),
) as ToolInventory;
const DIAGNOSIS: DiagnoseResult = { facts: FACTS, inventory: INVENTORY };
// A handshake still unfinished after this long counts as failed, so a stuck API ends the step.
const HANDSHAKE_TIMEOUT_MS = 30_000;

/** Dials, completes the handshake and resolves once the first desired state arrived. */
export function connectSimAgent(ctx: SwarmContext, hostId: string): Promise<SimAgent> {
  const ws = new WebSocket(ctx.wsUrl);
  let ready = false;
  let revision = 0;
  let nextHeartbeatAt = 0;
  let work: Promise<void> = Promise.resolve();
  const send = (frame: AgentFrame) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(encodeFrame(frame));
  };
  const observe = () =>
    send({
      type: "observed_state",
      observed: {
        revision,
        observedAt: new Date().toISOString(),
        facts: FACTS,
        inventory: INVENTORY,
        sections: {},
      },
    });
  const agent: SimAgent = {
    isOpen: () => ws.readyState === WebSocket.OPEN,
    tick(now) {
      if (!ready || now < nextHeartbeatAt) return;
      nextHeartbeatAt = now + TIMING.heartbeatMs;
      send({ type: "heartbeat", at: new Date().toISOString() });
    },
  };

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`no desired state within ${HANDSHAKE_TIMEOUT_MS} ms`));
      ws.close(1000, "handshake too slow");
    }, HANDSHAKE_TIMEOUT_MS);
    const handle = async (data: unknown) => {
      const receivedAt = wallClockMs();
      const parsed = parseFrame(String(data), ServerFrame);
      if (!parsed.ok) return ctx.unexpected(`malformed frame: ${parsed.message}`);
      const frame = parsed.frame;
      switch (frame.type) {
        case "challenge": {
          const answer = { nonce: frame.nonce, hostId, signedAt: new Date().toISOString() };
          const signature = await signText(ctx.privateKey, authMessage(answer));
          return send({ type: "auth", ...answer, signature });
        }
        case "welcome":
          return send({
            type: "hello",
            agentVersion: "0.0.0-bench",
            protocolVersion: PROTOCOL_VERSION,
            mode: "sandbox",
            modeReason: "benchmark swarm",
            facts: FACTS,
          });
        case "desired_state":
          revision = frame.state.revision;
          observe();
          if (!ready) {
            ready = true;
            clearTimeout(timer);
            // At a random point of the period, as in a fleet whose agents connected at unrelated
            // times: a swarm opened within seconds would otherwise beat in step, hundreds of
            // heartbeats in one burst every period, which no settled fleet sends.
            nextHeartbeatAt = performance.now() + Math.random() * TIMING.heartbeatMs;
            resolve(agent);
          }
          return;
        case "command":
          return await answerCommand(ctx, hostId, frame, send, receivedAt, observe);
        case "heartbeat":
          return;
        case "error":
          return ctx.unexpected(`error frame ${frame.code}: ${frame.message}`);
      }
    };
    // Frames are handled one at a time in arrival order, like the real client's session.
    ws.onmessage = (event) => {
      work = work.then(() => handle(event.data)).catch((err) => {
        ctx.unexpected(`handling a frame failed: ${(err as Error).message}`);
      });
    };
    ws.onclose = (event) => {
      clearTimeout(timer);
      if (!ready) reject(new Error(`closed during the handshake: ${event.code} ${event.reason}`));
    };
    ws.onerror = () => {}; // a close event follows
  });
}

async function answerCommand(
  ctx: SwarmContext,
  hostId: string,
  frame: Extract<ServerFrame, { type: "command" }>,
  send: (frame: AgentFrame) => void,
  receivedAt: number,
  observe: () => void,
): Promise<void> {
  // The same checks, in the same order, as the real agent (journal aside).
  const opened = await openCommand(ctx.apiKey, frame.body, frame.signature);
  if (!opened.ok) {
    const { commandId, reason, detail } = opened;
    return send({ type: "command_rejected", commandId, reason, detail });
  }
  const command = opened.command;
  const refusal = command.hostId !== hostId
    ? { commandId: command.id, reason: "wrong_host" as const, detail: "for another host" }
    : commandTimeProblem(command, new Date());
  if (refusal) return send({ type: "command_rejected", ...refusal });
  send({ type: "command_ack", commandId: command.id });
  const known = command.kind === "host.diagnose";
  send({
    type: "command_result",
    commandId: command.id,
    outcome: known ? "succeeded" : "failed",
    result: known ? DIAGNOSIS : null,
    error: known ? null : `unknown command kind ${command.kind}`,
    finishedAt: new Date().toISOString(),
  });
  ctx.onAnswered?.(command.id, receivedAt, wallClockMs());
  if (known) observe();
}
