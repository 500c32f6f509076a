// Test-only command kinds for the agent channel tests, and the execution log they write: a count
// of handler runs kept apart from the agent's journal, so "ran once" is checked by two witnesses.
import { open, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { CommandContext, CommandHandler } from "../../agent/command-handler.ts";

/** One handler run, as the execution log records it. */
export interface Execution {
  id: string;
  /** The command's siteId, or "host". */
  site: string;
  kind: string;
}

/** Path of the execution log inside an agent directory. */
export function executionLogPath(dir: string): string {
  return join(dir, "executions.log");
}

// fsync'd before the handler goes on: a run that happened is on disk even if the process dies.
async function appendExecution(dir: string, ctx: CommandContext): Promise<void> {
  const { id, siteId, kind } = ctx.command;
  const file = await open(executionLogPath(dir), "a", 0o600);
  try {
    await file.write(`${JSON.stringify({ id, site: siteId ?? "host", kind })}\n`);
    await file.sync();
  } finally {
    await file.close();
  }
}

/**
 * `test.record` logs its run, waits for `hold` (when given) and returns `{recorded: id}`;
 * `test.sleep {ms}` logs its start, then waits `ms` (or until the agent stops) and returns
 * `{slept: ms}`.
 */
export function testHandlers(
  dir: string,
  options: { hold?: (commandId: string) => Promise<void> } = {},
): Record<string, CommandHandler> {
  return {
    "test.record": async (_payload, ctx) => {
      await appendExecution(dir, ctx);
      await options.hold?.(ctx.command.id);
      return { recorded: ctx.command.id };
    },
    "test.sleep": async (payload, ctx) => {
      await appendExecution(dir, ctx);
      const ms = typeof payload.ms === "number" ? payload.ms : 0;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, ms);
        ctx.signal.addEventListener("abort", () => {
          clearTimeout(timer);
          reject(new Error("stopped while sleeping"));
        }, { once: true });
      });
      return { slept: ms };
    },
  };
}

/** Every handler run logged in `dir`, in order; empty before the first. */
export async function readExecutions(dir: string): Promise<Execution[]> {
  const text = await readFile(executionLogPath(dir), "utf8").catch((err) => {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw err;
  });
  return text.split("\n").filter((line) => line !== "").map((line) =>
    JSON.parse(line) as Execution
  );
}

/** A promise a test opens when it chooses; `test.record` runs held on it finish only then. */
export interface Gate {
  wait(): Promise<void>;
  open(): void;
}

/** A closed gate. */
export function createGate(): Gate {
  let open = () => {};
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { wait: () => opened, open: () => open() };
}
