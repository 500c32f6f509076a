// Commands from the API: verified, journaled, acknowledged, run one at a time per site, and
// reported. The journal is the truth: an id it holds is never run again, whatever the API resends.
import type { CommandEnvelope, RejectReason } from "./protocol/commands.ts";
import type { AgentFrame } from "./protocol/frames.ts";
import { commandTimeProblem, openCommand } from "./protocol/open-command.ts";
import { type CommandHandler, failure, runHandler } from "./command-handler.ts";
import type { Finish, Journal } from "./journal.ts";
import { type Log, silentLog } from "./log.ts";

/** What a command reported back is about, for the agent's event stream. */
export type DispatchEvent =
  | {
    type: "finished";
    commandId: string;
    outcome: Finish["outcome"];
    error: string | null;
    /** `stored` re-sent a journaled result, `interrupted` closed a command a crash cut short. */
    via: "run" | "stored" | "interrupted";
  }
  | { type: "rejected"; commandId: string | null; reason: RejectReason; detail: string };

/** The error reported for a command that was running when the agent died. */
export const INTERRUPTED_ERROR =
  "interrupted: the agent stopped while this command ran; it was not run again";

/** Dependencies of the dispatcher. */
export interface DispatcherOptions {
  hostId: string;
  /** The API's public key pinned at enrolment. */
  apiPublicKey: CryptoKey;
  journal: Journal;
  handlers: Record<string, CommandHandler>;
  send: (frame: AgentFrame) => void;
  now: () => Date;
  log?: Log;
  onEvent?: (event: DispatchEvent) => void;
}

/** Takes `command` frames in arrival order. */
export interface Dispatcher {
  /** Handles one frame; resolves once it is fully dealt with (run and reported, or refused). */
  handle(frame: { body: string; signature: string }): Promise<void>;
  /** Resolves when nothing is being admitted or run. */
  idle(): Promise<void>;
  /** Refuses further frames and aborts running handlers' signals. */
  stop(): void;
}

/** Builds the dispatcher; see the common wire flow for the exact rules it implements. */
export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const log = options.log ?? silentLog;
  const abort = new AbortController();
  // Ids admitted in this process and not yet reported; `acked` once journaled and acknowledged.
  const inFlight = new Map<string, { acked: boolean }>();
  const chains = new Map<string, Promise<void>>();
  const pending = new Set<Promise<unknown>>();
  let intake: Promise<unknown> = Promise.resolve();

  const send = (frame: AgentFrame) => options.send(frame);
  const reject = (commandId: string | null, reason: RejectReason, detail: string) => {
    log.warn("command rejected", { commandId, reason, detail });
    send({ type: "command_rejected", commandId, reason, detail: detail.slice(0, 1000) });
    options.onEvent?.({ type: "rejected", commandId, reason, detail });
  };
  const report = (id: string, finish: Finish, via: "run" | "stored" | "interrupted") => {
    const { outcome, result, error, at } = finish;
    send({ type: "command_result", commandId: id, outcome, result, error, finishedAt: at });
    options.onEvent?.({ type: "finished", commandId: id, outcome, error, via });
  };

  // Everything up to the acknowledgement runs one frame at a time, so per-site order is arrival
  // order and two copies of one id can never both pass the journal check.
  // Returns the run wrapped in an object: an async function returning a bare promise would wait
  // for it, and the intake would then wait for every command to finish.
  const admit = async (body: string, signature: string): Promise<{ run: Promise<void> } | null> => {
    if (abort.signal.aborted) return null;
    const opened = await openCommand(options.apiPublicKey, body, signature);
    if (!opened.ok) {
      reject(opened.commandId, opened.reason, opened.detail);
      return null;
    }
    const command = opened.command;
    if (command.hostId !== options.hostId) {
      reject(command.id, "wrong_host", `the command is for host ${command.hostId}`);
      return null;
    }
    const known = options.journal.lookup(command.id);
    const running = inFlight.get(command.id);
    if (running) {
      // A resend while it runs (the API did not hear the ack): say again that we have it.
      if (running.acked) send({ type: "command_ack", commandId: command.id });
      return null;
    }
    if (known?.finished) {
      log.info("command already finished; re-sending its result", { commandId: command.id });
      report(command.id, known.finished, "stored");
      return null;
    }
    if (known) {
      const finish = failure(INTERRUPTED_ERROR, options.now());
      inFlight.set(command.id, { acked: true });
      try {
        await options.journal.finish(command.id, finish);
      } finally {
        inFlight.delete(command.id);
      }
      report(command.id, finish, "interrupted");
      return null;
    }
    const now = options.now();
    const tooEarlyOrLate = commandTimeProblem(command, now);
    if (tooEarlyOrLate) {
      reject(tooEarlyOrLate.commandId, tooEarlyOrLate.reason, tooEarlyOrLate.detail);
      return null;
    }
    const state = { acked: false };
    inFlight.set(command.id, state);
    try {
      await options.journal.accept(command.id, now, command.expiresAt);
    } catch (err) {
      inFlight.delete(command.id); // not on disk, so not acknowledged: the API will resend it
      throw err;
    }
    state.acked = true;
    send({ type: "command_ack", commandId: command.id });
    return { run: enqueue(command.siteId ?? "host", () => run(command)) };
  };

  const run = async (command: CommandEnvelope): Promise<void> => {
    const finish = await runHandler(command, options.handlers, abort.signal, options.now);
    try {
      await options.journal.finish(command.id, finish);
    } finally {
      inFlight.delete(command.id);
    }
    log.info("command finished", {
      commandId: command.id,
      kind: command.kind,
      outcome: finish.outcome,
    });
    report(command.id, finish, "run");
  };

  const enqueue = (key: string, job: () => Promise<void>): Promise<void> => {
    const next = (chains.get(key) ?? Promise.resolve()).then(job);
    const settled = next.catch(() => {}); // the failure is reported through handle()
    chains.set(key, settled);
    void settled.then(() => {
      if (chains.get(key) === settled) chains.delete(key);
    });
    return next;
  };

  return {
    handle(frame) {
      const admitted = intake.then(() => admit(frame.body, frame.signature));
      intake = admitted.catch(() => null);
      // A journal write that fails leaves the command unacknowledged (or unreported): the API
      // resends it, and the journal decides again.
      const work = admitted.then((job) => job?.run).catch((err) => {
        log.error("a command could not be journaled", { error: String(err) });
      });
      pending.add(work);
      void work.then(() => pending.delete(work));
      return work;
    },
    async idle() {
      while (pending.size > 0) await Promise.all([...pending]);
    },
    stop() {
      abort.abort(new Error("the agent is stopping"));
    },
  };
}
