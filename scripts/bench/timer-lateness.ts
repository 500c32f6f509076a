// The machine's own share of a latency figure: a process of its own (timer-probe.ts) wakes every
// few milliseconds and records how late each wake came. Run at rest it shows what the machine adds
// by itself (a shared VM pauses now and then); run beside a load, what any process of that load
// may wait for the CPU. A round trip crosses processes about ten times, so its p99 cannot be
// expected to beat the timer's worst lateness over the same seconds.
import { join } from "node:path";
import { type Latency, latencyOf } from "./latency.ts";
import { baseEnv, onInterrupt } from "./server-process.ts";

/** How often the probe wakes: often enough to see short stalls, rare enough to add no load. */
export const TIMER_PERIOD_MS = 5;
const START_TIMEOUT_MS = 10_000;
/** A wake this late counts as a stall in the report. */
export const STALL_MS = 5;

/** How late the probe's wakes came. */
export interface TimerLateness {
  latency: Latency;
  /** Wakes later than STALL_MS. */
  stalls: number;
  /** How long the probe was measuring. */
  seconds: number;
}

/**
 * Starts the probe and resolves once its timer runs (its start-up is not measured); `stop` ends it
 * and reads what it measured (the same on later calls).
 */
export async function startTimerProbe(root: string): Promise<{ stop(): Promise<TimerLateness> }> {
  const proc = Bun.spawn([
    join(root, "node_modules/.bin/bun"),
    "scripts/bench/timer-probe.ts",
    String(TIMER_PERIOD_MS),
  ], {
    cwd: root,
    env: baseEnv(),
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
  });
  onInterrupt(() => {
    proc.kill("SIGKILL");
    return Promise.resolve();
  });
  const lines = readLines(proc.stdout);
  const timeout = Bun.sleep(START_TIMEOUT_MS).then(() => "timed out" as const);
  const first = await Promise.race([lines.next(), proc.exited, timeout]);
  if (typeof first !== "object" || first.value !== "ready") {
    proc.kill("SIGKILL");
    throw new Error(`the timer probe did not start (${first === "timed out" ? first : "exited"})`);
  }
  const startedAt = performance.now();
  let measured: Promise<TimerLateness> | undefined;
  const read = async () => {
    const seconds = (performance.now() - startedAt) / 1000;
    await proc.stdin.end();
    const [line, code] = await Promise.all([lines.next(), proc.exited]);
    if (code !== 0 || line.done) throw new Error(`the timer probe exited with code ${code}`);
    const late = JSON.parse(line.value) as number[];
    return { latency: latencyOf(late), stalls: late.filter((ms) => ms > STALL_MS).length, seconds };
  };
  return { stop: () => (measured ??= read()) };
}

async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffered = "";
  const reader = stream.getReader();
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    buffered += decoder.decode(chunk.value, { stream: true });
    for (let end = buffered.indexOf("\n"); end >= 0; end = buffered.indexOf("\n")) {
      yield buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
    }
  }
}

/** "p99 1.23 / max 45.60 ms, 3 wakes over 5 ms". */
export function formatLateness(lateness: TimerLateness): string {
  const { p99, max } = lateness.latency;
  return `p99 ${p99.toFixed(2)} / max ${max.toFixed(2)} ms, ${lateness.stalls} wakes over ` +
    `${STALL_MS} ms`;
}
