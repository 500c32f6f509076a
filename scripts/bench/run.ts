// `npm run bench`: requests/second and p99 latency of GET /readyz (one database round trip on
// embedded PGlite) and GET /healthz (no database) on Caddis under Bun and Deno, against a bare
// Bun.serve replaying the same /readyz bytes; then login, an authenticated request, and two
// permission-checked list endpoints called by a tenant admin (role grants resolved). With
// DATABASE_URL set, /readyz and /auth/me again on a PostgreSQL server. BENCH_SECONDS sets each
// run's length (default 5).
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { argon2Millis, loadLogin, loadMe, setupBenchUser } from "./auth.ts";
import { type LoadResult, runLoad } from "./autocannon.ts";
import { captureResponse } from "./capture.ts";
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
const WARMUP_SECONDS = 1;
const CONNECTIONS = 50;
// PGlite initialises a fresh data dir in ~5 s; Deno may compile on its first run.
const START_TIMEOUT_MS = 60_000;

/** One measured target. */
interface Row {
  target: string;
  result: LoadResult;
}

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
      CADDIS_RATE_LIMITS: "api=1000000000/min;auth=1000000000/min;pages=1000000000/min",
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

function printTable(rows: Row[]) {
  const baseline = rows.find((row) => row.target.startsWith("bare"))?.result.requestsPerSecond;
  console.log(
    `\nGET, ${CONNECTIONS} connections, ${SECONDS} s each after ${WARMUP_SECONDS} s warm-up:`,
  );
  console.log(
    `  ${"target".padEnd(34)} ${"req/s".padStart(9)} ${"p99 ms".padStart(8)} ${
      "vs bare".padStart(8)
    }  bad`,
  );
  for (const { target, result } of rows) {
    const ratio = baseline ? `${(result.requestsPerSecond / baseline).toFixed(2)}x` : "-";
    const bad = result.non2xx + result.errors;
    console.log(
      `  ${target.padEnd(34)} ${Math.round(result.requestsPerSecond).toString().padStart(9)} ${
        String(result.p99Ms).padStart(8)
      } ${ratio.padStart(8)}  ${bad > 0 ? `${bad} non-2xx/errors` : "0"}`,
    );
  }
  console.log(
    "\nReference (ARCHITECTURE §12, wrk, 50 connections, hello world): bare Bun.serve ~88k, " +
      "Hono on Bun ~87k, Hono on Deno ~86k req/s.\nautocannon runs on Node and shares the 2 " +
      "cores with the server, so it may be the bottleneck for the fast targets; compare ratios " +
      "within one run, not absolute figures across tools.",
  );
}

if (import.meta.main) {
  if (!Number.isInteger(SECONDS) || SECONDS < 1) {
    console.error(
      `BENCH_SECONDS must be a whole number of seconds >= 1, not "${process.env.BENCH_SECONDS}"`,
    );
    process.exit(2);
  }
  const rows: Row[] = [];
  let failed = false;
  try {
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
  if (rows.length > 0) printTable(rows.sort((a, b) => rank(a.target) - rank(b.target)));
  // A figure made of errors (a 429, a 500) measures nothing: say so and fail the run.
  const bad = rows.filter((row) => row.result.non2xx + row.result.errors > 0);
  for (const row of bad) {
    console.error(`bench: "${row.target}" had failed responses; its figure is void`);
  }
  process.exit(failed || bad.length > 0 ? 1 : 0);
}
