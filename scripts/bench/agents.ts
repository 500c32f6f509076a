// The agent-channel part of `npm run bench`: how many idle agent sockets one API process holds and
// at what RSS, and the host.diagnose round trip at 1,000 agents, each next to a bare Bun.serve
// WebSocket echo measured in the same run; the round trip also next to how late a timer process
// woke over the same seconds (timer-lateness.ts), the machine's own share of any latency.
// Simulated agents live in swarm processes (agent-swarm.ts); the API, the echo server and the
// swarms are separate processes on loopback.
import { join } from "node:path";
import { type AgentApi, startAgentApi } from "./agent-api.ts";
import { count, label, mib, ramp } from "./agent-ramp.ts";
import type { IdleFigures, TripFigures } from "./agent-report.ts";
import { type BenchKeys, benchKeys } from "./bench-hosts.ts";
import { commandRoundTrips } from "./command-load.ts";
import { cpuPer, cpuSnapshot } from "./cpu-usage.ts";
import { echoRoundTrips } from "./echo-load.ts";
import { formatLatency } from "./latency.ts";
import { openFilesLimit, rssMiB } from "./proc-status.ts";
import { baseEnv, freePort, launch, outputTail, waitForOk } from "./server-process.ts";
import { startSwarmPool, type SwarmPool } from "./swarm-pool.ts";
import { formatLateness, STALL_MS, startTimerProbe, type TimerLateness } from "./timer-lateness.ts";

const SWARMS = 2;
const HANDSHAKES_IN_FLIGHT = 64;
// The round trips run once this many sockets are open (the first ramp step).
const ROUND_TRIP_AGENTS = 1_000;
// A light rate that shows the round trip without queueing, then the target rate.
const COMMAND_RATES = [20, 200];
// Each rate runs this long unmeasured first, as the HTTP loads do: the API's pool opens its
// connections and PostgreSQL plans its statements in each. Its figures are printed too.
const WARMUP_SECONDS = 3;
const ECHO_CLIENTS = 100;
const ECHO_RATE = 200;
// Lets a fresh server finish starting up before its RSS at rest is read.
const SETTLE_MS = 1_000;

/** How the agent bench runs. */
export interface AgentBenchOptions {
  root: string;
  seconds: number;
  /** A PostgreSQL server: the Caddis run there uses a fresh database made by `freshDatabase`. */
  databaseUrl?: string;
  freshDatabase: (url: string) => Promise<{ url: string; drop: () => Promise<void> }>;
  tempDir: (prefix: string) => Promise<string>;
  /** Idle-agent steps on PGlite and on a PostgreSQL server; the first must be 1,000. */
  pgliteSteps: number[];
  serverSteps: number[];
}

/** What the agent bench measured, and what went wrong (a non-empty list voids the figures). */
export interface AgentBenchResult {
  idle: IdleFigures[];
  trips: TripFigures[];
  problems: string[];
}

async function benchEcho(options: AgentBenchOptions, result: AgentBenchResult): Promise<void> {
  const name = "bare ws echo";
  console.log("bench: agent channel baseline, a bare Bun.serve WebSocket echo");
  const port = await freePort();
  const server = launch(
    name,
    [join(options.root, "node_modules/.bin/bun"), "scripts/bench/ws-echo-server.ts"],
    { cwd: options.root, port, env: { ...baseEnv(), PORT: String(port) } },
  );
  const pool = await startSwarmPool(options.root, SWARMS);
  try {
    await waitForOk(server, "/readyz", 10_000);
    await Bun.sleep(SETTLE_MS);
    const restMiB = await rssMiB(server.pid);
    console.log(`${label(name)} at rest: RSS ${mib(restMiB)}`);
    const wsUrl = `${server.url.replace(/^http/, "ws")}/`;
    const trips = async (connected: number) => {
      if (connected !== ROUND_TRIP_AGENTS) return;
      for (const rate of [ECHO_RATE, null]) {
        const echo = await echoRoundTrips(wsUrl, ECHO_CLIENTS, options.seconds, rate);
        const how = rate ? `${rate}/s` : "ping-pong";
        console.log(
          `${label(name)} ${ECHO_CLIENTS} more clients, ${how}: ${
            count(Math.round(echo.perSecond))
          } msg/s, ${formatLatency(echo.latency)}`,
        );
        result.trips.push({
          target: `${name} ${ECHO_CLIENTS} clients ${how}`,
          latency: echo.latency,
          perSecond: echo.perSecond,
          bad: echo.lost,
          note: "",
        });
      }
    };
    const open = (from: number, to: number) =>
      pool.openPlain(wsUrl, to - from, HANDSHAKES_IN_FLIGHT);
    const ramped = await ramp(
      name,
      server,
      pool,
      options.serverSteps,
      open,
      result.problems,
      trips,
    );
    result.idle.push({ target: name, restMiB, ...ramped });
  } finally {
    await server.stop();
    await pool.stop();
  }
}

// A row of the round-trip table for the timer probe's lateness over the same seconds.
function latenessRow(target: string, lateness: TimerLateness): TripFigures {
  return {
    target,
    latency: lateness.latency,
    perSecond: lateness.latency.count / lateness.seconds,
    bad: 0,
    note: `${lateness.stalls} wakes over ${STALL_MS} ms`,
  };
}

async function benchTrips(
  root: string,
  name: string,
  api: AgentApi,
  pool: SwarmPool,
  seconds: number,
  result: AgentBenchResult,
): Promise<void> {
  // What the machine adds by itself, with the agents connected and no commands running.
  const atRest = await startTimerProbe(root);
  await Bun.sleep(seconds * 1000);
  const restLateness = await atRest.stop();
  console.log(
    `${label(name)} timer probe at rest, ${count(ROUND_TRIP_AGENTS)} agents connected: late ${
      formatLateness(restLateness)
    }`,
  );
  result.trips.push(latenessRow(`timer at rest, ${name}`, restLateness));
  const target = {
    apiUrl: api.server.url,
    token: api.token,
    hostIds: api.hostIds.slice(0, ROUND_TRIP_AGENTS),
    pool,
    events: api.database,
  };
  for (const rate of COMMAND_RATES) {
    const warmup = await commandRoundTrips(target, rate, WARMUP_SECONDS);
    console.log(
      `${label(name)} diagnose ${rate}/s, ${WARMUP_SECONDS} s warm-up (not counted): ${
        formatLatency(warmup.roundTrip)
      }`,
    );
    if (warmup.bad > 0) result.problems.push(`${name} diagnose warm-up: ${warmup.firstProblem}`);
    const probe = await startTimerProbe(root);
    const before = await cpuSnapshot(api.server.pid);
    let after = before;
    const trips = await commandRoundTrips(
      {
        ...target,
        onLoadEnd: async () => {
          after = await cpuSnapshot(api.server.pid);
          await probe.stop();
        },
      },
      rate,
      seconds,
    );
    const lateness = await probe.stop();
    const how = trips.detection === "LISTEN" ? "LISTEN" : "polled";
    const note = `${trips.superseded} superseded, ${trips.unfinished} unfinished`;
    console.log(
      `${label(name)} diagnose ${rate}/s on ${count(ROUND_TRIP_AGENTS)} agents (${how}): ${
        formatLatency(trips.roundTrip)
      }; stored succeeded ${Math.round(trips.donePerSecond)}/s; ${trips.succeeded} succeeded, ` +
        note,
    );
    console.log(
      `${label("")}   split: 202 answer ${formatLatency(trips.accepted)}; command at agent ${
        formatLatency(trips.toAgent)
      }; answer → stored ${formatLatency(trips.stored)}`,
    );
    const cpu = cpuPer(before, after, trips.succeeded);
    const database = api.database ? `, PostgreSQL ${cpu.postgresMs.toFixed(2)} ms` : "";
    console.log(
      `${label("")}   CPU per command: API ${cpu.apiMs.toFixed(2)} ms${database}, machine ${
        cpu.machineMs.toFixed(2)
      } ms (${Math.round(cpu.busyPercent)}% of all cores busy, load generator and agents included)`,
    );
    console.log(`${label("")}   timer probe beside the load: late ${formatLateness(lateness)}`);
    if (trips.bad > 0) {
      result.problems.push(`${name} diagnose: ${trips.firstProblem}`);
      // The API's side of a failed request: its error lines (its log level is warn).
      const errors = outputTail(api.server, 2_000).split("\n").filter((line) =>
        line.includes('"level":"error"')
      );
      console.error(`  ${api.server.name} logged:\n${errors.slice(-5).join("\n")}`);
    }
    result.trips.push({
      target: `${name} ${rate}/s (${how})`,
      latency: trips.roundTrip,
      perSecond: trips.donePerSecond,
      bad: trips.bad,
      note: trips.unfinished > 0 ? `${note}: p99/max are lower bounds` : note,
    });
    result.trips.push(latenessRow(`timer beside ${name} ${rate}/s`, lateness));
  }
}

async function benchCaddis(
  options: AgentBenchOptions,
  result: AgentBenchResult,
  keys: BenchKeys,
  databaseUrl: string | undefined,
): Promise<void> {
  const name = databaseUrl ? "caddis bun+pg" : "caddis bun";
  const steps = databaseUrl ? options.serverSteps : options.pgliteSteps;
  const hosts = Math.max(...steps, ROUND_TRIP_AGENTS);
  console.log(
    `bench: agent channel, Caddis on Bun (${
      databaseUrl ? "PostgreSQL server, a fresh database" : "embedded PGlite"
    }), ${count(hosts)} enrolled hosts`,
  );
  const dataDir = await options.tempDir("caddis-bench-agents-");
  const api = await startAgentApi(options.root, databaseUrl, dataDir, {
    count: hosts,
    publicKey: keys.publicKey,
  });
  const pool = await startSwarmPool(options.root, SWARMS);
  try {
    await Bun.sleep(SETTLE_MS);
    const restMiB = await rssMiB(api.server.pid);
    const limit = await openFilesLimit(api.server.pid);
    console.log(
      `${label(name)} at rest: RSS ${mib(restMiB)} (open files limit ${limit ?? "unlimited"})`,
    );
    if (limit !== null && limit < hosts + 1_000) {
      result.problems.push(`${name}: the API may open only ${limit} files; raise ulimit -n`);
    }
    const target = {
      wsUrl: api.wsUrl,
      apiPublicKey: api.apiPublicKey,
      privateKey: keys.privateKey,
      concurrency: HANDSHAKES_IN_FLIGHT,
    };
    const open = (from: number, to: number) => pool.openAgents(target, api.hostIds.slice(from, to));
    const trips = async (connected: number) => {
      if (connected === ROUND_TRIP_AGENTS) {
        await benchTrips(options.root, name, api, pool, options.seconds, result);
      }
    };
    const ramped = await ramp(name, api.server, pool, steps, open, result.problems, trips);
    result.idle.push({ target: name, restMiB, ...ramped });
  } catch (err) {
    console.error(`  output of ${api.server.name}:\n${outputTail(api.server)}`);
    throw err;
  } finally {
    await api.stop();
    await pool.stop();
  }
}

/** Runs the agent-channel benchmark; figures are printed as they come and returned. */
export async function runAgentBench(options: AgentBenchOptions): Promise<AgentBenchResult> {
  const result: AgentBenchResult = { idle: [], trips: [], problems: [] };
  const keys = await benchKeys();
  await benchEcho(options, result);
  if (options.databaseUrl) {
    const database = await options.freshDatabase(options.databaseUrl);
    try {
      await benchCaddis(options, result, keys, database.url);
    } finally {
      await database.drop();
    }
  }
  await benchCaddis(options, result, keys, undefined);
  return result;
}
