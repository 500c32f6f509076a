// `npm run bench`: requests/second and p99 latency of GET /readyz (one database round trip on
// embedded PGlite) and GET /healthz (no database) on Caddis under Bun and Deno, against a bare
// Bun.serve replaying the same /readyz bytes; then login, an authenticated request, and two
// permission-checked list endpoints called by a tenant admin (role grants resolved). With
// DATABASE_URL set, /readyz and /auth/me again on a PostgreSQL server. Then the agent channel
// (agents.ts): idle agent sockets held with the API's RSS, and the command round trip, against a
// bare WebSocket echo and how late the machine runs an idle timer. Then Caddy (caddy.ts): Caddyfile render times for 1–10,000 sites and whole
// applies for 1,000 and 5,000, against Caddy's own adapt + load. BENCH_SECONDS sets each run's
// length (default 5); BENCH_ONLY=http, agents or caddy runs one part.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { argon2Millis, loadLogin, loadMe, setupBenchUser } from "./auth.ts";
import { printAgentTables } from "./agent-report.ts";
import { type AgentBenchResult, runAgentBench } from "./agents.ts";
import { type CaddyFigure, printCaddyTable, runCaddyBench } from "./caddy.ts";
import { type LoadResult, runLoad } from "./autocannon.ts";
import { captureResponse } from "./capture.ts";
import { printHttpTable, type Row } from "./http-report.ts";
import { loadAsAdmin, setupBenchAdmin } from "./rbac.ts";
import { createBenchDatabase } from "./database.ts";
import {
  baseEnv,
  freePort,
  launch,
  onInterrupt,
  outputTail,
  type ServerProcess,
  stopAll,
  waitForOk,
} from "./server-process.ts";

const ROOT = resolve(import.meta.dir, "../..");
const SECONDS = Number(process.env.BENCH_SECONDS || "5");
const ONLY = process.env.BENCH_ONLY ?? "";
// Idle agents held by one API process, in steps; the round trips run at the first (1,000).
// PGlite (in the API process, one query at a time) takes about a minute for 10,000 handshakes
// at twice the RSS target, so there the ramp stops at 5,000 to keep the bench near 3 minutes.
const AGENT_STEPS = [1_000, 5_000, 10_000];
const AGENT_STEPS_PGLITE = [1_000, 5_000];
const WARMUP_SECONDS = 1;
const CONNECTIONS = 50;
// PGlite initialises a fresh data dir in ~5 s; Deno may compile on its first run.
const START_TIMEOUT_MS = 60_000;

const tempDirs: string[] = [];
let current: ServerProcess | undefined;

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  tempDirs.push(dir);
  onInterrupt(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function startCaddis(
  runtime: "bun" | "deno",
  databaseUrl?: string,
): Promise<ServerProcess> {
  const port = await freePort();
  const argv = runtime === "bun"
    ? [join(ROOT, "node_modules/.bin/bun"), "api/main-bun.ts"]
    : [join(ROOT, "node_modules/.bin/deno"), "run", "-A", "api/main-deno.ts"];
  current = launch(`caddis on ${runtime}`, argv, {
    cwd: ROOT,
    port,
    env: {
      ...baseEnv(),
      CADDIS_HOST: "127.0.0.1",
      CADDIS_PORT: String(port),
      CADDIS_DATA_DIR: await tempDir(`caddis-bench-${runtime}-`),
      CADDIS_ENV: "development",
      // Request logging off: the figure should measure the app, not the log writer.
      CADDIS_LOG_LEVEL: "warn",
      // Budgets no run can reach: the limiter still runs (its cost is measured), never refuses.
      CADDIS_RATE_LIMITS:
        "api=1000000000/min;auth=1000000000/min;pages=1000000000/min;agent=1000000000/min",
      // The embedded agent's start-up work would land inside the measured runs.
      CADDIS_EMBEDDED_AGENT: "off",
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    },
  });
  await waitForOk(current, "/readyz", START_TIMEOUT_MS);
  return current;
}

async function startBare(capturedFile: string): Promise<ServerProcess> {
  const port = await freePort();
  const argv = [join(ROOT, "node_modules/.bin/bun"), "scripts/bench/bare-server.ts", capturedFile];
  current = launch("bare Bun.serve", argv, {
    cwd: ROOT,
    port,
    env: { ...baseEnv(), PORT: String(port) },
  });
  await waitForOk(current, "/readyz", 10_000);
  return current;
}

async function measure(
  target: string,
  url: string,
  load: (seconds: number) => Promise<LoadResult> = (seconds) =>
    runLoad(ROOT, url, seconds, CONNECTIONS),
): Promise<Row> {
  await load(WARMUP_SECONDS);
  const result = await load(SECONDS);
  console.log(
    `  ${target}: ${Math.round(result.requestsPerSecond)} req/s, p99 ${result.p99Ms} ms`,
  );
  return { target, result };
}

/** The HTTP figures: Caddis on Bun and Deno against a bare Bun.serve, and on PostgreSQL. */
async function benchHttp(rows: Row[]): Promise<void> {
  console.log("bench: Caddis on Bun (embedded PGlite)");
  const bun = await startCaddis("bun");
  const captured = join(await tempDir("caddis-bench-capture-"), "readyz.json");
  await writeFile(captured, JSON.stringify(await captureResponse(`${bun.url}/readyz`)));
  rows.push(await measure("caddis on bun   /readyz", `${bun.url}/readyz`));
  rows.push(await measure("caddis on bun   /healthz", `${bun.url}/healthz`));
  const token = await setupBenchUser(bun);
  rows.push(
    await measure(
      "caddis on bun   /auth/me (JWT+session)",
      "",
      (s) => loadMe(ROOT, bun, token, s, CONNECTIONS),
    ),
  );
  const admin = await setupBenchAdmin(bun, token);
  for (const path of ["/api/v1/members", "/api/v1/audit?limit=20"]) {
    rows.push(
      await measure(
        `caddis on bun   ${path.replace("/api/v1", "")} (admin)`,
        "",
        (s) => loadAsAdmin(ROOT, bun, admin, path, s, CONNECTIONS),
      ),
    );
  }
  rows.push(await measure("caddis on bun   login (4 conns)", "", (s) => loadLogin(ROOT, bun, s)));
  await bun.stop();
  console.log(
    `  argon2id (m=19 MiB, t=2, p=1) on Bun: median ${
      (await argon2Millis()).toFixed(1)
    } ms per hash`,
  );

  console.log("bench: bare Bun.serve replaying the /readyz response");
  const bare = await startBare(captured);
  rows.push(await measure("bare Bun.serve  (same bytes)", `${bare.url}/readyz`));
  await bare.stop();

  console.log("bench: Caddis on Deno (embedded PGlite)");
  const deno = await startCaddis("deno");
  rows.push(await measure("caddis on deno  /readyz", `${deno.url}/readyz`));
  rows.push(await measure("caddis on deno  /healthz", `${deno.url}/healthz`));
  await deno.stop();

  if (process.env.DATABASE_URL) {
    console.log("bench: Caddis on Bun (PostgreSQL server, a fresh database)");
    const database = await createBenchDatabase(process.env.DATABASE_URL);
    onInterrupt(database.drop);
    try {
      const pg = await startCaddis("bun", database.url);
      rows.push(await measure("caddis on bun+pg /readyz", `${pg.url}/readyz`));
      const pgToken = await setupBenchUser(pg);
      rows.push(
        await measure(
          "caddis on bun+pg /auth/me",
          "",
          (s) => loadMe(ROOT, pg, pgToken, s, CONNECTIONS),
        ),
      );
      const pgAdmin = await setupBenchAdmin(pg, pgToken);
      rows.push(
        await measure(
          "caddis on bun+pg /members (admin)",
          "",
          (s) => loadAsAdmin(ROOT, pg, pgAdmin, "/api/v1/members", s, CONNECTIONS),
        ),
      );
      await pg.stop();
    } finally {
      await database.drop();
    }
  }
}

if (import.meta.main) {
  if (!Number.isInteger(SECONDS) || SECONDS < 1) {
    console.error(
      `BENCH_SECONDS must be a whole number of seconds >= 1, not "${process.env.BENCH_SECONDS}"`,
    );
    process.exit(2);
  }
  if (!["", "http", "agents", "caddy"].includes(ONLY)) {
    console.error(`BENCH_ONLY must be "http", "agents" or "caddy", not "${ONLY}"`);
    process.exit(2);
  }
  const rows: Row[] = [];
  let agents: AgentBenchResult | undefined;
  let caddy: CaddyFigure[] = [];
  let failed = false;
  const runs = (part: string) => ONLY === "" || ONLY === part;
  try {
    if (runs("http")) await benchHttp(rows);
    if (runs("agents")) {
      agents = await runAgentBench({
        root: ROOT,
        seconds: SECONDS,
        databaseUrl: process.env.DATABASE_URL,
        freshDatabase: async (url) => {
          const database = await createBenchDatabase(url);
          onInterrupt(database.drop);
          return database;
        },
        tempDir,
        pgliteSteps: AGENT_STEPS_PGLITE,
        serverSteps: AGENT_STEPS,
      });
    }
    if (runs("caddy")) caddy = await runCaddyBench(ROOT);
  } catch (err) {
    failed = true;
    console.error(`bench failed: ${(err as Error).message}`);
    if (current) console.error(`  output of ${current.name}:\n${outputTail(current)}`);
  } finally {
    await stopAll();
    await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
  }
  // Figures in reading order: baseline, the database-bound probe, then the framework-only one.
  const rank = (t: string) =>
    t.startsWith("bare") ? 0 : t.endsWith("/readyz") ? 1 : t.endsWith("/healthz") ? 2 : 3;
  if (rows.length > 0) {
    const sorted = rows.sort((a, b) => rank(a.target) - rank(b.target));
    printHttpTable(sorted, { connections: CONNECTIONS, seconds: SECONDS, warmup: WARMUP_SECONDS });
  }
  // A figure made of errors (a 429, a 500) measures nothing: say so and fail the run.
  const bad = rows.filter((row) => row.result.non2xx + row.result.errors > 0);
  for (const row of bad) {
    console.error(`bench: "${row.target}" had failed responses; its figure is void`);
  }
  if (agents) printAgentTables(agents.idle, agents.trips, SECONDS);
  if (caddy.length > 0) printCaddyTable(caddy);
  for (const problem of agents?.problems ?? []) {
    console.error(`bench: agent channel: ${problem}; the figures concerned are void`);
  }
  process.exit(failed || bad.length > 0 || (agents?.problems.length ?? 0) > 0 ? 1 : 0);
}
