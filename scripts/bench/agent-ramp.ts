// The idle-socket ramp of the agent bench: open sockets step by step through a swarm pool,
// reading the server's RSS after each step (and its peak during it), then leave them idle a while
// and keep the lowest RSS seen.
import type { IdleStep } from "./agent-report.ts";
import { rssMiB, watchPeakRss } from "./proc-status.ts";
import type { ServerProcess } from "./server-process.ts";
import type { Opened, SwarmPool } from "./swarm-pool.ts";

// Lets the server finish the reports that follow each handshake before its RSS is read.
const SETTLE_MS = 1_000;
// After the last step the sockets sit idle this long (heartbeats flowing) and the lowest RSS seen
// is kept: the runtime's collector frees the handshakes' garbage some seconds later.
const IDLE_WINDOW_MS = 12_000;

/** The bench's line prefix for a target. */
export const label = (target: string) => `  ${target.padEnd(16)}`;
/** "12.3 MiB". */
export const mib = (n: number) => `${n.toFixed(1)} MiB`;
/** "10,000". */
export const count = (n: number) => n.toLocaleString("en-US");

function failedOpen(what: string, opened: Opened): string {
  return `${what}: ${opened.failed} of ${opened.ok + opened.failed} failed (${opened.firstError})`;
}

/**
 * Opens sockets up to each of `steps` in turn with `open(from, to)`, printing and returning what
 * each step cost; `atStep` runs after each step that went well. Stops at the first step with a
 * failed or dropped socket (noted in `problems`).
 */
export async function ramp(
  name: string,
  server: ServerProcess,
  pool: SwarmPool,
  steps: number[],
  open: (from: number, to: number) => Promise<Opened>,
  problems: string[],
  atStep: (connected: number) => Promise<void>,
): Promise<{ steps: IdleStep[]; settledMiB: number }> {
  const done: IdleStep[] = [];
  let from = 0;
  for (const to of steps) {
    const peak = watchPeakRss(server.pid);
    const started = performance.now();
    const opened = await open(from, to);
    const seconds = (performance.now() - started) / 1000;
    const peakMiB = await peak.stop();
    await Bun.sleep(SETTLE_MS);
    const { open: connected, dropped, unexpected } = await pool.count();
    const step = { target: to, connected, seconds, rssMiB: await rssMiB(server.pid), peakMiB };
    done.push(step);
    console.log(
      `${label(name)} ${count(to)}: ${count(connected)} open in ${seconds.toFixed(1)} s, RSS ${
        mib(step.rssMiB)
      } (peak ${mib(peakMiB)})`,
    );
    if (opened.failed > 0) problems.push(failedOpen(`${name} at ${count(to)}`, opened));
    if (dropped > 0) problems.push(`${name} at ${count(to)}: ${dropped} sockets closed`);
    if (unexpected.length > 0) problems.push(`${name}: unexpected frames: ${unexpected[0]}`);
    if (opened.failed > 0 || dropped > 0) break;
    await atStep(to);
    from = to;
  }
  let settledMiB = await rssMiB(server.pid);
  for (const until = performance.now() + IDLE_WINDOW_MS; performance.now() < until;) {
    await Bun.sleep(500);
    settledMiB = Math.min(settledMiB, await rssMiB(server.pid));
  }
  const { open: connected } = await pool.count();
  const held = done.at(-1)?.connected ?? 0;
  if (connected < held) problems.push(`${name}: ${held - connected} sockets closed while idle`);
  console.log(
    `${label(name)} ${count(connected)} idle for ${IDLE_WINDOW_MS / 1000} s: lowest RSS ${
      mib(settledMiB)
    }`,
  );
  return { steps: done, settledMiB };
}
