// The summary tables of the agent-channel bench, printed after the HTTP figures of run.ts.
import type { Latency } from "./latency.ts";
import { TIMER_PERIOD_MS } from "./timer-lateness.ts";

/** One step of the idle-socket ramp. */
export interface IdleStep {
  target: number;
  /** Sockets still open (agents: welcomed, hello sent, desired state received) after the step. */
  connected: number;
  /** How long opening this step's sockets took. */
  seconds: number;
  /** Server RSS a second after the step, and the highest seen while it ran. */
  rssMiB: number;
  peakMiB: number;
}

/** The idle-socket figures of one server. */
export interface IdleFigures {
  target: string;
  restMiB: number;
  steps: IdleStep[];
  /** Lowest RSS while the last step's sockets sat idle afterwards. */
  settledMiB: number;
}

/** One round-trip figure. */
export interface TripFigures {
  target: string;
  latency: Latency;
  /** Messages echoed, or commands stored succeeded, per second. */
  perSecond: number;
  /** Lost messages, or commands that failed (the figure is void). */
  bad: number;
  /** What else to know about the figure (commands superseded or unfinished). */
  note: string;
}

// Targets of issue 5: 10,000 agents with the API under 256 MiB; p99 round trip under 10 ms.
const RSS_TARGET_MIB = 256;
const IDLE_TARGET = 10_000;
const P99_TARGET_MS = 10;

const pad = (text: string, width: number) => text.padStart(width);

/** Prints both tables and says whether each target was met. */
export function printAgentTables(idle: IdleFigures[], trips: TripFigures[], seconds: number) {
  const steps = [...new Set(idle.flatMap((row) => row.steps.map((s) => s.target)))].sort((a, b) =>
    a - b
  );
  console.log(
    "\nAgent channel, idle sockets: server RSS in MiB at rest and after each step (simulated " +
      "agents: signed handshake, hello, observed state, heartbeats; no metrics):",
  );
  console.log(
    `  ${"target".padEnd(18)} ${pad("rest", 7)}${
      steps.map((n) => pad(n.toLocaleString("en-US"), 9)).join("")
    } ${pad("settled", 8)} ${pad("+settled", 9)} ${pad("peak", 7)} ${pad("connect all", 12)}`,
  );
  for (const row of idle) {
    const cells = steps.map((n) => {
      const step = row.steps.find((s) => s.target === n);
      return pad(step ? step.rssMiB.toFixed(1) : "-", 9);
    });
    const peak = Math.max(...row.steps.map((s) => s.peakMiB));
    const connect = row.steps.reduce((sum, s) => sum + s.seconds, 0);
    console.log(
      `  ${row.target.padEnd(18)} ${pad(row.restMiB.toFixed(1), 7)}${cells.join("")} ${
        pad(row.settledMiB.toFixed(1), 8)
      } ${pad(`+${(row.settledMiB - row.restMiB).toFixed(1)}`, 9)} ${pad(peak.toFixed(1), 7)} ${
        pad(`${connect.toFixed(1)} s`, 12)
      }`,
    );
  }
  for (const row of idle.filter((r) => r.target.startsWith("caddis"))) {
    const top = row.steps.find((s) => s.target === IDLE_TARGET);
    const verdict = !top
      ? `not run (${row.steps.at(-1)?.connected ?? 0} connected at most)`
      : top.connected === IDLE_TARGET && row.settledMiB < RSS_TARGET_MIB
      ? "met"
      : "MISSED";
    console.log(
      `  target ${IDLE_TARGET.toLocaleString("en-US")} agents under ${RSS_TARGET_MIB} MiB ` +
        `(settled), ${row.target}: ${verdict}`,
    );
  }

  console.log(
    `\nCommand round trip, host.diagnose on 1,000 agents for ${seconds} s, request → stored ` +
      "succeeded (agents answer from cached facts: ack, result, observed state; no journal " +
      "fsync), against echo round trips and a timer probe (a process of its own waking every " +
      `${TIMER_PERIOD_MS} ms: how late the machine ran it, at rest and beside each load); per s ` +
      "= succeeded (echoed, woken) per second:",
  );
  console.log(
    `  ${"target".padEnd(34)} ${pad("p50 ms", 9)} ${pad("p99 ms", 9)} ${pad("max ms", 9)} ${
      pad("per s", 8)
    }  bad  notes`,
  );
  for (const row of trips) {
    const { p50, p99, max } = row.latency;
    console.log(
      `  ${row.target.padEnd(34)} ${pad(p50.toFixed(2), 9)} ${pad(p99.toFixed(2), 9)} ${
        pad(max.toFixed(2), 9)
      } ${pad(Math.round(row.perSecond).toLocaleString("en-US"), 8)}  ${
        String(row.bad).padEnd(4)
      } ${row.note}`,
    );
  }
  for (
    const row of trips.filter((r) => r.target.startsWith("caddis") && r.target.includes(" 200/s"))
  ) {
    const verdict = row.latency.p99 < P99_TARGET_MS && row.bad === 0 ? "met" : "MISSED";
    console.log(`  target p99 < ${P99_TARGET_MS} ms at 200/s, ${row.target}: ${verdict}`);
  }
}
