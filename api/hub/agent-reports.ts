// What a ready agent reports on its socket, each stored by the service that owns it: observed
// state (with its sites' statuses), command progress and results, usage samples.
import type { AgentFrame } from "../../agent/protocol/frames.ts";
import type { AppDeps } from "../deps.ts";
import { markCommandRunning } from "../services/agent-command-delivery.ts";
import { recordCommandRejected, recordCommandResult } from "../services/agent-command-results.ts";
import type { HostRef } from "../services/agent-commands.ts";
import { recordObservedState } from "../services/agent-sessions.ts";
import { recordMetrics } from "../services/host-metrics.ts";
import { recordSiteStatuses } from "../services/site-status.ts";
import type { HostOutbox } from "./host-outbox.ts";

/** The frames only a ready (authenticated, hello received) agent may send. */
export type ReportFrame = Extract<
  AgentFrame,
  { type: "observed_state" | "command_ack" | "command_result" | "command_rejected" | "metrics" }
>;

/** What the socket keeps between frames. */
export interface SocketMemory {
  /** Whether this command's result has arrived and waits to be handled. */
  resultWaiting(commandId: string): boolean;
  /** The last observed state stored from this socket, as JSON without its time. */
  lastObserved?: string;
}

/**
 * Stores one report. Command answers first wait for a delivery in progress, so a command is
 * marked `sent` before its acknowledgement marks it `running`; after a command ends, the next
 * one for its site may go out, if the host has one. An acknowledgement whose result already
 * arrived writes nothing: the result ends the command and sets its start time in one write, which
 * for a quick command (a diagnose) saves a statement. An observed state the socket stored already
 * (its time aside) is not written again.
 */
export async function handleReport(
  deps: AppDeps,
  host: HostRef,
  outbox: HostOutbox,
  frame: ReportFrame,
  memory: SocketMemory,
): Promise<void> {
  // What the agent would send again after a crash is written without waiting for the disk.
  const db = deps.database.relaxedDb;
  switch (frame.type) {
    case "observed_state": {
      // The agent reports after every reconcile and diagnose, mostly what it reported last time.
      const { observedAt: _, ...content } = frame.observed;
      const observed = JSON.stringify(content);
      if (observed !== memory.lastObserved) {
        await recordObservedState(db, host.id, frame.observed);
        memory.lastObserved = observed;
      }
      return await recordSiteStatuses(deps, host, frame.observed.sites ?? []);
    }
    case "metrics":
      return await recordMetrics(deps, host, frame.sample);
    case "command_ack":
      await outbox.idle();
      // Frames that came in with this one (in the same read) are received by the next turn.
      await new Promise((resolve) => setImmediate(resolve));
      if (memory.resultWaiting(frame.commandId)) return;
      return await markCommandRunning(db, host.id, frame.commandId, deps.now());
    case "command_result": {
      await outbox.idle();
      const passes = outbox.commandPasses();
      const { othersOpen } = await recordCommandResult(deps, host, frame);
      outbox.forget(frame.commandId);
      // With nothing else open there is nothing to send. A command queued later announces itself
      // with its own event, but a pass for it that ran before this result committed still saw
      // this command in its way: then one more pass goes.
      if (othersOpen || outbox.commandPasses() !== passes) void outbox.request({ commands: true });
      return;
    }
    case "command_rejected":
      await outbox.idle();
      await recordCommandRejected(deps, host, frame);
      if (frame.commandId) outbox.forget(frame.commandId);
      void outbox.request({ commands: true });
      return;
  }
}
