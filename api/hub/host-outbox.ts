// Sends one connected host its desired state and commands, one delivery at a time: requests that
// arrive while a delivery runs (a NOTIFY, a result that frees the next command) are folded into
// one more pass, so two deliveries for a host never interleave and none is lost.
import type { ServerFrame } from "../../agent/protocol/frames.ts";
import type { AppDeps } from "../deps.ts";
import { takeCommandsForDelivery } from "../services/agent-command-delivery.ts";
import { desiredStateFor } from "../services/desired-state.ts";

/** What a delivery pass should send. */
export interface DeliveryRequest {
  desired?: boolean;
  commands?: boolean;
  /**
   * The command whose NOTIFY asked for this pass: none is needed when it went out on this socket
   * already, or is about to (see `reserve`).
   */
  commandId?: string;
}

/** A command being written for a direct send on this socket, reserved before its statement runs. */
export interface DirectDelivery {
  /**
   * The statement committed: `sent` says whether it marked the command sent for this socket
   * (then the frame goes now), or left it queued (then a pass delivers it the usual way).
   * Null when the statement failed: no command exists.
   */
  written(outcome: { sent: boolean; frame: { body: string; signature: string } } | null): void;
}

/** The serialised sender of one socket's desired state and commands. */
export interface HostOutbox {
  /** Asks for a pass; resolves when the pass that covers this request has finished. */
  request(what: DeliveryRequest): Promise<void>;
  /**
   * Reserves a command about to be written for this socket, so it can go out the moment its
   * statement commits instead of waiting for its NOTIFY and a pass; undefined while the socket
   * has not had its first desired state (commands go after it), while a pass runs, or once it
   * is closed.
   */
  reserve(commandId: string): DirectDelivery | undefined;
  /** Resolves when no pass is running (answers wait for it, so `sent` is written before `running`). */
  idle(): Promise<void>;
  /** The desired revision this socket was last sent; undefined before the first. */
  desiredRevision(): number | undefined;
  /** How many command passes have started: two readings tell whether one ran in between. */
  commandPasses(): number;
  /** The agent finished with this command: it may be sent again on a later connection only. */
  forget(commandId: string): void;
  /** The socket closed: sends nothing more. */
  stop(): void;
}

// The longest delay setTimeout takes; a longer one fires at once.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Builds the outbox of one authenticated socket; `send` returns false once the socket is gone. */
export function createHostOutbox(
  deps: AppDeps,
  hostId: string,
  send: (frame: ServerFrame) => boolean,
): HostOutbox {
  let wantDesired = false;
  let wantCommands = false;
  let stopped = false;
  let running: Promise<void> | undefined;
  let commandPasses = 0;
  let desiredSent = false;
  let sentRevision: number | undefined;
  // Commands written to this socket, or reserved to be: a pass neither marks nor sends these again
  // while the agent works on them (a reconnect re-sends every open one).
  const sentHere = new Set<string>();
  // A head that may not run yet is sent when its time comes, even if nothing else happens.
  let wake: ReturnType<typeof setTimeout> | undefined;

  const sendDesired = async () => {
    const state = await desiredStateFor(deps, hostId);
    if (send({ type: "desired_state", state })) {
      desiredSent = true;
      sentRevision = state.revision;
    }
  };

  const sendCommands = async () => {
    commandPasses++;
    const now = deps.now();
    // A delivery mark lost in a crash is made again when the agent reconnects.
    const db = deps.database.relaxedDb;
    const { commands, heldUntil } = await takeCommandsForDelivery(db, hostId, now, sentHere);
    clearTimeout(wake);
    if (heldUntil && !stopped) {
      // Capped at setTimeout's limit; firing early only means one more pass that re-arms it.
      const delayMs = Math.min(heldUntil.getTime() - now.getTime(), MAX_TIMER_MS);
      wake = setTimeout(() => void outbox.request({ commands: true }), delayMs);
    }
    // Already counted as delivered: one that a closed socket did not carry goes again on the
    // agent's reconnect, with every other open command.
    for (const command of commands) {
      if (stopped) break;
      if (sentHere.has(command.id)) continue;
      if (!send({ type: "command", body: command.body, signature: command.signature })) break;
      sentHere.add(command.id);
    }
  };

  const drain = async () => {
    // Yield once, so `running` is set before this can finish and clear it.
    await Promise.resolve();
    while (!stopped && (wantDesired || wantCommands)) {
      const desired = wantDesired;
      wantDesired = false;
      if (!desired) wantCommands = false;
      try {
        await (desired ? sendDesired() : sendCommands());
      } catch (err) {
        // The next event or reconnect tries again; retrying here could spin on a database outage.
        deps.log.error({ err, hostId }, "agent hub: delivery to the agent failed");
      }
    }
    // Cleared in the same step as the last check: a request arriving later starts a new drain.
    running = undefined;
  };

  const outbox: HostOutbox = {
    request(what) {
      // Its NOTIFY arrived after a pass had already sent it here: nothing is left for a pass to do.
      const covered = what.commandId !== undefined && sentHere.has(what.commandId);
      if (what.desired) wantDesired = true;
      if (what.commands && !covered) wantCommands = true;
      running ??= drain();
      return running;
    },
    reserve(commandId) {
      // A pass already running read which commands this socket carries before this one existed:
      // it could count a delivery of it too. The command takes the usual way then.
      if (stopped || !desiredSent || running) return undefined;
      sentHere.add(commandId);
      return {
        written(outcome) {
          if (outcome?.sent) {
            // Stays `sent` if the socket closed meanwhile: the reconnect sends it again.
            if (!stopped) send({ type: "command", ...outcome.frame });
            return;
          }
          sentHere.delete(commandId);
          // Queued (another command of its site runs first, or the host's socket is now another
          // replica's), its NOTIFY may have been passed over while reserved: a pass looks.
          if (outcome) void outbox.request({ commands: true });
        },
      };
    },
    idle: () => running ?? Promise.resolve(),
    desiredRevision: () => sentRevision,
    commandPasses: () => commandPasses,
    forget: (commandId) => void sentHere.delete(commandId),
    stop() {
      stopped = true;
      clearTimeout(wake);
    },
  };
  return outbox;
}
