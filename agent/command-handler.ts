// Running one accepted command's handler and turning whatever happens into a journal-ready
// outcome: a result object, or a failure carrying a message (never a stack).
import { COMMAND_SPECS, type CommandEnvelope } from "./protocol/commands.ts";
import type { Finish } from "./journal.ts";

/** What a handler gets besides the payload. */
export interface CommandContext {
  command: CommandEnvelope;
  /** Aborted when the agent stops; long handlers should give up when it fires. */
  signal: AbortSignal;
}

/** Runs one kind of command; a throw is a failed outcome carrying the error's message. */
export type CommandHandler = (
  payload: Record<string, unknown>,
  ctx: CommandContext,
) => Promise<Record<string, unknown>>;

const MAX_ERROR_CHARS = 8000;
// Results travel in one frame with the rest of command_result; keep well under MAX_FRAME_BYTES.
const MAX_RESULT_BYTES = 512 * 1024;

/** A failed outcome with `error` cut to what a command_result frame carries. */
export function failure(error: string, at: Date): Finish {
  return {
    outcome: "failed",
    result: null,
    error: error.slice(0, MAX_ERROR_CHARS),
    at: at.toISOString(),
  };
}

/** Runs the handler for `command.kind` (payload checked against its spec, if the kind has one). */
export async function runHandler(
  command: CommandEnvelope,
  handlers: Record<string, CommandHandler>,
  signal: AbortSignal,
  now: () => Date,
): Promise<Finish> {
  const handler = Object.hasOwn(handlers, command.kind) ? handlers[command.kind] : undefined;
  if (!handler) return failure(`unknown command kind ${command.kind}`, now());
  const spec = Object.hasOwn(COMMAND_SPECS, command.kind) ? COMMAND_SPECS[command.kind] : undefined;
  const payload = spec ? spec.payload.safeParse(command.payload) : null;
  if (payload && !payload.success) {
    const issue = payload.error.issues[0];
    const where = issue?.path.length ? ` at ${issue.path.join(".")}` : "";
    return failure(`invalid payload for ${command.kind}${where}: ${issue?.message}`, now());
  }
  try {
    const value = await handler(payload?.data ?? command.payload, { command, signal });
    // A round trip through JSON is exactly what the journal and the wire will keep.
    const text = JSON.stringify(value);
    if (!value || typeof value !== "object" || Array.isArray(value) || text === undefined) {
      return failure(`the ${command.kind} handler returned no result object`, now());
    }
    if (text.length > MAX_RESULT_BYTES) {
      return failure(`the ${command.kind} result is too large (${text.length} bytes)`, now());
    }
    const result = JSON.parse(text) as Record<string, unknown>;
    return { outcome: "succeeded", result, error: null, at: now().toISOString() };
  } catch (err) {
    return failure(err instanceof Error ? err.message : String(err), now());
  }
}
