// A benchmark swarm: one process holding many WebSocket clients, driven over Bun IPC by
// scripts/bench/agents.ts. It opens simulated agents (swarm-agent.ts) or plain idle sockets (for
// the bare echo baseline), keeps agents alive with heartbeats, and reports answered commands.
// Usage: spawned by swarm-pool.ts with `ipc`; never run by hand.
import { importPrivateKey, importPublicKey } from "../../agent/protocol/signing.ts";
import { connectSimAgent, type SimAgent, type SwarmContext } from "./swarm-agent.ts";
import type { Answer, SwarmOrder, SwarmReport } from "./swarm-messages.ts";

// How often due heartbeats are looked for; each agent still sends one per TIMING.heartbeatMs.
// Often, so the heartbeats due go out spread as each real agent's own timer sends them, not
// gathered into one burst a second.
const TICK_MS = 50;
const MAX_UNEXPECTED = 20;

const agents: SimAgent[] = [];
const plain: WebSocket[] = [];
const unexpected: string[] = [];
let watching = false;
// Answers waiting to be reported, and how often they go (0: each at once). Batched, the report
// wakes the orchestrator a few times a second instead of once per command, on the cores the
// measured API runs on; each answer's times were taken when it happened all the same.
let answers: Answer[] = [];
let batchTimer: ReturnType<typeof setInterval> | undefined;

function report(message: SwarmReport): void {
  process.send?.(message);
}

function reportAnswers(): void {
  if (answers.length === 0) return;
  report({ seq: 0, type: "answered", answers });
  answers = [];
}

function watch(on: boolean, batchMs: number): void {
  clearInterval(batchTimer);
  batchTimer = on && batchMs > 0 ? setInterval(reportAnswers, batchMs) : undefined;
  // Turning off, what is left goes before the reply, so the orchestrator has every answer.
  if (!on) reportAnswers();
  watching = on;
}

function noteUnexpected(what: string): void {
  if (unexpected.length < MAX_UNEXPECTED) unexpected.push(what);
}

/** Runs `open` for items 0..count-1 with at most `concurrency` in flight; counts the outcomes. */
async function openMany(
  count: number,
  concurrency: number,
  open: (index: number) => Promise<void>,
): Promise<{ ok: number; failed: number; firstError: string | null }> {
  let next = 0;
  let ok = 0;
  let failed = 0;
  let firstError: string | null = null;
  const lane = async () => {
    while (next < count) {
      const index = next++;
      try {
        await open(index);
        ok++;
      } catch (err) {
        failed++;
        firstError ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  return { ok, failed, firstError };
}

function openPlain(url: string): Promise<void> {
  const ws = new WebSocket(url);
  return new Promise((resolve, reject) => {
    ws.onopen = () => {
      plain.push(ws);
      resolve();
    };
    ws.onerror = () => reject(new Error(`could not open ${url}`));
  });
}

async function obey(order: SwarmOrder): Promise<SwarmReport> {
  switch (order.type) {
    case "agents": {
      const ctx: SwarmContext = {
        wsUrl: order.wsUrl,
        privateKey: await importPrivateKey(order.privateKey),
        apiKey: await importPublicKey(order.apiPublicKey),
        onAnswered: (commandId, receivedAt, answeredAt) => {
          if (!watching) return;
          answers.push({ commandId, receivedAt, answeredAt });
          if (batchTimer === undefined) reportAnswers();
        },
        unexpected: noteUnexpected,
      };
      const opened = await openMany(order.hostIds.length, order.concurrency, async (i) => {
        agents.push(await connectSimAgent(ctx, order.hostIds[i] ?? ""));
      });
      return { seq: order.seq, type: "opened", ...opened };
    }
    case "plain": {
      const opened = await openMany(order.count, order.concurrency, () => openPlain(order.wsUrl));
      return { seq: order.seq, type: "opened", ...opened };
    }
    case "watch":
      watch(order.on, order.batchMs);
      return { seq: order.seq, type: "done" };
    case "count": {
      const open = agents.filter((a) => a.isOpen()).length +
        plain.filter((ws) => ws.readyState === WebSocket.OPEN).length;
      const total = agents.length + plain.length;
      return { seq: order.seq, type: "count", open, dropped: total - open, unexpected };
    }
  }
}

setInterval(() => {
  const now = performance.now();
  for (const agent of agents) agent.tick(now);
}, TICK_MS);

// Orders run one at a time, in the order sent.
let queue: Promise<void> = Promise.resolve();
process.on("message", (order: SwarmOrder) => {
  queue = queue.then(async () => {
    try {
      report(await obey(order));
    } catch (err) {
      report({ seq: order.seq, type: "failed", error: (err as Error).message });
    }
  });
});
// The orchestrator's exit closes the channel: nothing is left to hold the sockets for.
process.on("disconnect", () => process.exit(0));
report({ seq: 0, type: "ready" });
