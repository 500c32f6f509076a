// The command round trip of the agent benchmark: `POST /api/v1/hosts/:id/diagnose` at a fixed
// rate on random connected hosts, each timed from just before the request until the command is
// stored `succeeded`. On PostgreSQL the end is the `command_done` NOTIFY (heard on a LISTEN
// connection of the bench's own); on PGlite, which no other process can open, it is the first
// GET of the command that shows it ended, polled once the simulated agent has answered.
import type { Database } from "../../db/client.ts";
import { COMMAND_DONE_CHANNEL, listenHostEvents } from "../../api/services/host-events.ts";
import { sleepUntil } from "./echo-load.ts";
import { type Latency, latencyOf } from "./latency.ts";
import type { Answered, SwarmPool } from "./swarm-pool.ts";
import { wallClockMs } from "./swarm-messages.ts";

/** Where to send the load and how to see commands end. */
export interface CommandLoadTarget {
  apiUrl: string;
  /** A tenant admin's access token. */
  token: string;
  /** Hosts with a connected simulated agent. */
  hostIds: string[];
  pool: SwarmPool;
  /** The API's PostgreSQL server, to LISTEN on; undefined means polling the API (PGlite). */
  events: Database | undefined;
  /**
   * Runs once the commands ended (or the wait for them gave up), before their states are read
   * back through the API: a CPU reading taken here leaves those reads out.
   */
  onLoadEnd?: () => Promise<void>;
}

/** The measured round trips and how they split. */
export interface CommandLoadResult {
  detection: "LISTEN" | "polling";
  /**
   * Request → stored succeeded. Commands still open when the wait ended count with the time
   * they had waited, so with `unfinished` > 0 the percentiles they reach are lower bounds.
   */
  roundTrip: Latency;
  /** Request → 202 answer. */
  accepted: Latency;
  /** Request → command frame at the agent (wall clocks of two local processes). */
  toAgent: Latency;
  /** Agent answered → stored succeeded. */
  stored: Latency;
  issuedPerSecond: number;
  /** Commands stored succeeded per second, from the first request to the last success. */
  donePerSecond: number;
  succeeded: number;
  /** Replaced while still queued by a newer diagnose of the same host (a backlog built up). */
  superseded: number;
  /** Still open when the wait after the load ended. */
  unfinished: number;
  /** Commands that failed, expired, were refused or errored: the figure is void. */
  bad: number;
  firstProblem: string | null;
}

interface Issued {
  hostId: string;
  startedAt: number;
  startedWall: number;
  commandId?: string;
  /** The command's place in its host's order. */
  seq?: number;
  acceptedAt?: number;
  endedAt?: number;
  state?: string;
}

// Open commands are waited for this long after the load; a backlog beyond it is reported as such.
const FINISH_TIMEOUT_MS = 15_000;
const TERMINAL = new Set(["succeeded", "failed", "expired", "superseded", "cancelled"]);
// How often the swarms report answers when the end of a command is heard by LISTEN.
const ANSWER_BATCH_MS = 100;

/** Issues `rate` diagnose commands per second for `seconds` and times each to its stored end. */
export async function commandRoundTrips(
  target: CommandLoadTarget,
  rate: number,
  seconds: number,
): Promise<CommandLoadResult> {
  const headers = { authorization: `Bearer ${target.token}` };
  const byCommand = new Map<string, Issued>();
  const answered = new Map<string, Answered>();
  const endedEarly = new Map<string, number>();
  const issued: Issued[] = [];
  let firstProblem: string | null = null;
  const problem = (what: string) => void (firstProblem ??= what);

  const commandUrl = (item: Issued) =>
    `${target.apiUrl}/api/v1/hosts/${item.hostId}/commands/${item.commandId}`;
  let stopped = false;
  const poll = async (item: Issued) => {
    while (item.endedAt === undefined && !stopped) {
      const res = await fetch(commandUrl(item), { headers });
      const at = performance.now();
      if (!res.ok) return problem(`GET command: HTTP ${res.status} ${await res.text()}`);
      const { command } = (await res.json()) as { command: { state: string } };
      if (TERMINAL.has(command.state)) [item.endedAt, item.state] = [at, command.state];
    }
  };
  const polling = target.events === undefined;
  const maybePoll = (item: Issued) => {
    if (polling && item.commandId && answered.has(item.commandId)) {
      void poll(item).catch((err) => problem(`GET command: ${(err as Error).message}`));
    }
  };
  // Polling starts once the agent answered, so there each answer must come at once; listening,
  // answers only feed the split and may come in batches.
  await target.pool.watch((a) => {
    answered.set(a.commandId, a);
    const item = byCommand.get(a.commandId);
    if (item) maybePoll(item);
  }, polling ? 0 : ANSWER_BATCH_MS);
  const unlisten = target.events
    ? await listenHostEvents(target.events, COMMAND_DONE_CHANNEL, (event) => {
      if (event.event !== "command_done") return;
      const at = performance.now();
      const item = byCommand.get(event.commandId);
      if (item) item.endedAt ??= at;
      else endedEarly.set(event.commandId, at);
    }, () => problem("a malformed host event"))
    : undefined;

  const issue = async (item: Issued) => {
    const res = await fetch(`${target.apiUrl}/api/v1/hosts/${item.hostId}/diagnose`, {
      method: "POST",
      headers,
    });
    item.acceptedAt = performance.now();
    if (res.status !== 202) return problem(`POST diagnose: HTTP ${res.status} ${await res.text()}`);
    const { command } = (await res.json()) as { command: { id: string; seq: number } };
    [item.commandId, item.seq] = [command.id, command.seq];
    byCommand.set(command.id, item);
    item.endedAt ??= endedEarly.get(command.id);
    maybePoll(item);
  };

  const started = performance.now();
  const end = started + seconds * 1000;
  for (let i = 0; performance.now() < end; i++) {
    await sleepUntil(started + (i * 1000) / rate);
    const hostId = target.hostIds[Math.floor(Math.random() * target.hostIds.length)] ?? "";
    const item: Issued = { hostId, startedAt: performance.now(), startedWall: wallClockMs() };
    issued.push(item);
    void issue(item).catch((err) => problem(`POST diagnose: ${(err as Error).message}`));
  }
  const issuedPerSecond = issued.length / ((performance.now() - started) / 1000);
  const deadline = performance.now() + FINISH_TIMEOUT_MS;
  while (issued.some((i) => !settled(issued, i)) && performance.now() < deadline) {
    await Bun.sleep(20);
  }
  stopped = true;
  const waitedUntil = performance.now();
  await target.onLoadEnd?.();
  await unlisten?.();
  await target.pool.watch(null);
  await readStates(target, issued.filter((i) => i.commandId && !i.state), problem);

  // Succeeded with a time seen, replaced by a newer one, still open (or ended unseen after the
  // wait), or anything else: failed, expired, cancelled, refused by the API.
  const ok = issued.filter((i) => i.state === "succeeded" && i.endedAt !== undefined);
  const superseded = issued.filter((i) => i.state === "superseded").length;
  const open = issued.filter((i) =>
    i.commandId !== undefined && i.endedAt === undefined &&
    (i.state === undefined || i.state === "succeeded" || !TERMINAL.has(i.state))
  );
  const bad = issued.length - ok.length - superseded - open.length;
  if (bad > 0 && !firstProblem) {
    const other = issued.find((i) =>
      i.state && i.state !== "succeeded" && i.state !== "superseded"
    );
    problem(`a command ended ${other?.state ?? "without a command id"}`);
  }
  const spans = (from: (i: Issued) => number | undefined, to: (i: Issued) => number | undefined) =>
    latencyOf(ok.flatMap((i) => {
      const [a, b] = [from(i), to(i)];
      return a === undefined || b === undefined ? [] : [b - a];
    }));
  const answer = (i: Issued) => (i.commandId ? answered.get(i.commandId) : undefined);
  const lastDone = Math.max(...ok.map((i) => i.endedAt ?? 0));
  return {
    detection: polling ? "polling" : "LISTEN",
    roundTrip: latencyOf([
      ...ok.map((i) => (i.endedAt ?? 0) - i.startedAt),
      ...open.map((i) => waitedUntil - i.startedAt),
    ]),
    accepted: spans((i) => i.startedAt, (i) => i.acceptedAt),
    toAgent: spans((i) => i.startedWall, (i) => answer(i)?.receivedAt),
    stored: spans(
      (i) => answer(i)?.answeredAt,
      (i) => (i.endedAt === undefined ? undefined : i.endedAt - i.startedAt + i.startedWall),
    ),
    issuedPerSecond,
    donePerSecond: ok.length > 0 ? ok.length / ((lastDone - started) / 1000) : 0,
    succeeded: ok.length,
    superseded,
    unfinished: open.length,
    bad,
    firstProblem,
  };
}

// Whether a command needs no more waiting: its request failed, it ended, or a later command for
// its host did (which could only run after this one ended: so this one ended too, perhaps
// superseded, which a poll that starts once the agent answered never sees).
function settled(issued: Issued[], item: Issued): boolean {
  if (item.acceptedAt === undefined) return false;
  if (item.endedAt !== undefined || item.seq === undefined) return true;
  const seq = item.seq;
  return issued.some((other) =>
    other.hostId === item.hostId && (other.seq ?? 0) > seq && other.endedAt !== undefined
  );
}

// The stored state of each command, read through the API (a NOTIFY says only that a command
// ended; a poll only follows commands the agent answered).
async function readStates(
  target: CommandLoadTarget,
  queue: Issued[],
  problem: (what: string) => void,
): Promise<void> {
  const headers = { authorization: `Bearer ${target.token}` };
  const lane = async () => {
    for (let item = queue.pop(); item; item = queue.pop()) {
      const url = `${target.apiUrl}/api/v1/hosts/${item.hostId}/commands/${item.commandId}`;
      const res = await fetch(url, { headers });
      if (!res.ok) return problem(`GET command: HTTP ${res.status}`);
      item.state = ((await res.json()) as { command: { state: string } }).command.state;
    }
  };
  await Promise.all(Array.from({ length: 8 }, lane));
}
