// How the simulated agent of protocol-client.ts answers a `command` frame: parse the envelope,
// check the signature against the pinned key, acknowledge, run the test's handler, report.
import { CommandEnvelope, type RejectReason } from "../../agent/protocol/commands.ts";
import type { AgentFrame, ServerFrame } from "../../agent/protocol/frames.ts";
import { openCommand } from "../../agent/protocol/open-command.ts";
import { parseFrame } from "../../agent/protocol/parse-frame.ts";
import { importPublicKey } from "../../agent/protocol/signing.ts";

/** What a command handler decides: run it (with an outcome) or refuse it unrun. */
export type CommandAnswer =
  | { outcome: "succeeded"; result?: Record<string, unknown> }
  | { outcome: "failed"; error: string }
  | { reject: RejectReason; detail: string };

/** Runs a command the simulated agent received (already verified when a key is pinned). */
export type CommandHandler = (envelope: CommandEnvelope) => Promise<CommandAnswer> | CommandAnswer;

/** How the simulated agent treats commands. */
export interface ClientOptions {
  onCommand?: CommandHandler;
  /** Send `command_ack` before running (default true); false simulates a lost acknowledgement. */
  ack?: boolean;
  /** The API's public key: commands whose signature does not verify are rejected. */
  apiPublicKey?: string;
}

/** Answers one command frame through `send`; ids handed to the handler are appended to `ran`. */
export async function answerCommand(
  frame: Extract<ServerFrame, { type: "command" }>,
  handler: CommandHandler,
  options: ClientOptions & { send: (frame: AgentFrame) => void; ran: string[] },
): Promise<void> {
  const { send } = options;
  let envelope: CommandEnvelope;
  if (options.apiPublicKey) {
    // With a pinned key, the same checks as the real agent: signature first, then the envelope.
    const opened = await openCommand(
      await importPublicKey(options.apiPublicKey),
      frame.body,
      frame.signature,
    );
    if (!opened.ok) {
      const { commandId, reason, detail } = opened;
      return send({ type: "command_rejected", commandId, reason, detail });
    }
    envelope = opened.command;
  } else {
    const parsed = parseFrame(frame.body, CommandEnvelope);
    if (!parsed.ok) {
      return send({ type: "command_rejected", commandId: null, reason: "malformed", detail: "" });
    }
    envelope = parsed.frame;
  }
  if (options.ack !== false) send({ type: "command_ack", commandId: envelope.id });
  options.ran.push(envelope.id);
  const answer = await handler(envelope);
  if ("reject" in answer) {
    return send({
      type: "command_rejected",
      commandId: envelope.id,
      reason: answer.reject,
      detail: answer.detail,
    });
  }
  send({
    type: "command_result",
    commandId: envelope.id,
    outcome: answer.outcome,
    result: answer.outcome === "succeeded" ? answer.result ?? {} : null,
    error: answer.outcome === "failed" ? answer.error : null,
    finishedAt: new Date().toISOString(),
  });
}
