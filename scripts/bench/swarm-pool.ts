// The orchestrator's side of the swarm processes (agent-swarm.ts): spawns them with Bun IPC,
// splits socket work evenly between them, and waits for each one's reply.
import { join } from "node:path";
import type { Subprocess } from "bun";
import { baseEnv, onInterrupt } from "./server-process.ts";
import type { Answer, SwarmOrder, SwarmReport } from "./swarm-messages.ts";

const START_TIMEOUT_MS = 15_000;

/** What opening a batch of sockets came to, over every swarm. */
export interface Opened {
  ok: number;
  failed: number;
  firstError: string | null;
}

/** A command a simulated agent answered, with wall-clock times (see wallClockMs). */
export type Answered = Answer;

/** Several swarm processes, used as one. */
export interface SwarmPool {
  /** Opens one simulated agent per host id (split between the swarms); resolves when all settled. */
  openAgents(
    target: { wsUrl: string; apiPublicKey: string; privateKey: string; concurrency: number },
    hostIds: string[],
  ): Promise<Opened>;
  /** Opens `count` plain idle sockets (split between the swarms). */
  openPlain(wsUrl: string, count: number, concurrency: number): Promise<Opened>;
  /**
   * Starts (with a callback) or stops reporting every answered command: each at once, or in
   * batches every `batchMs`. Stopping delivers every answer not yet reported first.
   */
  watch(onAnswered: ((answered: Answered) => void) | null, batchMs?: number): Promise<void>;
  /** Sockets still open, sockets that closed, and the first unexpected frames seen. */
  count(): Promise<{ open: number; dropped: number; unexpected: string[] }>;
  /** Ends the processes, and with them their sockets. */
  stop(): Promise<void>;
}

type Order = SwarmOrder extends infer O ? O extends SwarmOrder ? Omit<O, "seq"> : never : never;

interface Swarm {
  proc: Subprocess;
  order(order: Order): Promise<SwarmReport>;
}

function spawnSwarm(root: string, onAnswered: (answered: Answered) => void): Promise<Swarm> {
  const waiting = new Map<number, (report: SwarmReport) => void>();
  let seq = 0;
  let started: () => void = () => {};
  const ready = new Promise<void>((resolve) => (started = resolve));
  const proc = Bun.spawn([join(root, "node_modules/.bin/bun"), "scripts/bench/agent-swarm.ts"], {
    cwd: root,
    env: baseEnv(),
    stdio: ["ignore", "inherit", "inherit"],
    serialization: "json",
    ipc(message: SwarmReport) {
      if (message.type === "ready") return started();
      if (message.type === "answered") return message.answers.forEach(onAnswered);
      waiting.get(message.seq)?.(message);
      waiting.delete(message.seq);
    },
  });
  onInterrupt(() => {
    proc.kill("SIGKILL");
    return Promise.resolve();
  });
  const exited = proc.exited.then((code) => {
    throw new Error(`a swarm process exited (code ${code})`);
  });
  exited.catch(() => {}); // observed through the races below
  const swarm: Swarm = {
    proc,
    order(order) {
      const withSeq = { ...order, seq: ++seq } as SwarmOrder;
      const reply = new Promise<SwarmReport>((resolve) => waiting.set(withSeq.seq, resolve));
      proc.send(withSeq);
      return Promise.race([reply, exited]);
    },
  };
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error("a swarm process did not start")), START_TIMEOUT_MS).unref()
  );
  return Promise.race([ready.then(() => swarm), exited, timeout]);
}

function expect<T extends SwarmReport["type"]>(
  report: SwarmReport,
  type: T,
): Extract<SwarmReport, { type: T }> {
  if (report.type === "failed") throw new Error(`a swarm failed: ${report.error}`);
  if (report.type !== type) throw new Error(`a swarm answered "${report.type}", not "${type}"`);
  return report as Extract<SwarmReport, { type: T }>;
}

function sum(replies: SwarmReport[]): Opened {
  const opened = replies.map((r) => expect(r, "opened"));
  return {
    ok: opened.reduce((n, r) => n + r.ok, 0),
    failed: opened.reduce((n, r) => n + r.failed, 0),
    firstError: opened.find((r) => r.firstError)?.firstError ?? null,
  };
}

/** Starts `size` swarm processes and waits until each is listening for orders. */
export async function startSwarmPool(root: string, size: number): Promise<SwarmPool> {
  let answered: ((answered: Answered) => void) | null = null;
  const swarms = await Promise.all(
    Array.from({ length: size }, () => spawnSwarm(root, (a) => answered?.(a))),
  );
  const share = (count: number, index: number) =>
    Math.floor(count / size) + (index < count % size ? 1 : 0);
  return {
    async openAgents(target, hostIds) {
      let from = 0;
      const replies = await Promise.all(swarms.map((swarm, i) => {
        const ids = hostIds.slice(from, from += share(hostIds.length, i));
        return swarm.order({ type: "agents", ...target, hostIds: ids });
      }));
      return sum(replies);
    },
    async openPlain(wsUrl, count, concurrency) {
      const replies = await Promise.all(
        swarms.map((swarm, i) =>
          swarm.order({ type: "plain", wsUrl, count: share(count, i), concurrency })
        ),
      );
      return sum(replies);
    },
    async watch(onAnswered, batchMs = 0) {
      // Kept until the swarms replied when stopping: their last answers come before the reply.
      if (onAnswered) answered = onAnswered;
      const on = onAnswered !== null;
      const replies = await Promise.all(
        swarms.map((swarm) => swarm.order({ type: "watch", on, batchMs })),
      );
      for (const reply of replies) expect(reply, "done");
      answered = onAnswered;
    },
    async count() {
      const replies = (await Promise.all(swarms.map((swarm) => swarm.order({ type: "count" }))))
        .map((reply) => expect(reply, "count"));
      return {
        open: replies.reduce((n, r) => n + r.open, 0),
        dropped: replies.reduce((n, r) => n + r.dropped, 0),
        unexpected: replies.flatMap((r) => r.unexpected),
      };
    },
    async stop() {
      // Exiting closes every socket a swarm holds; nothing there needs a graceful end.
      for (const swarm of swarms) swarm.proc.kill("SIGKILL");
      await Promise.all(swarms.map((swarm) => swarm.proc.exited));
    },
  };
}
