// `bun scripts/deno-smoke.ts`: starts Caddis on Deno as `npm run start:deno` would and checks it
// really serves: ready, secure headers, and Deno as the runtime it reports. The test suite runs
// on Bun, so this is the one place the Deno entry file is executed. Uses DATABASE_URL when set,
// else embedded PGlite in a temporary data dir.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  baseEnv,
  freePort,
  launch,
  onInterrupt,
  outputTail,
  type ServerProcess,
  stopAll,
  waitForOk,
} from "./bench/server-process.ts";

const ROOT = resolve(import.meta.dir, "..");
// A cold PGlite takes ~5 s to initialise and Deno compiles on first run; a minute is generous.
const READY_TIMEOUT_MS = 60_000;

/** Collects failed expectations so one run reports all of them. */
class Checks {
  readonly failures: string[] = [];
  expect(ok: boolean, what: string) {
    console.log(`  ${ok ? "ok  " : "FAIL"} ${what}`);
    if (!ok) this.failures.push(what);
  }
}

function checkSecurityHeaders(checks: Checks, res: Response, label: string) {
  const header = (name: string) => res.headers.get(name) ?? "";
  checks.expect(
    header("Content-Security-Policy").startsWith("default-src 'self'"),
    `${label}: Content-Security-Policy starts with default-src 'self' (${
      header("Content-Security-Policy") || "missing"
    })`,
  );
  checks.expect(header("X-Content-Type-Options") === "nosniff", `${label}: X-Content-Type-Options`);
  checks.expect(header("X-Frame-Options") === "DENY", `${label}: X-Frame-Options: DENY`);
  checks.expect(header("Strict-Transport-Security") !== "", `${label}: Strict-Transport-Security`);
}

async function smoke(server: ServerProcess, checks: Checks) {
  const ready = await waitForOk(server, "/readyz", READY_TIMEOUT_MS);
  const body = (await ready.json()) as { status?: unknown };
  checks.expect(body.status === "ready", `/readyz reports status "ready" (${String(body.status)})`);
  checks.expect(
    (ready.headers.get("Content-Type") ?? "").startsWith("application/json"),
    "/readyz is JSON",
  );
  checkSecurityHeaders(checks, ready, "/readyz");

  const missing = await fetch(`${server.url}/no-such-page-${crypto.randomUUID()}`);
  await missing.body?.cancel();
  checks.expect(missing.status === 404, `unknown path answers 404 (${missing.status})`);
  checkSecurityHeaders(checks, missing, "404");

  const status = await fetch(`${server.url}/api/v1/status`);
  const report = (await status.json()) as { runtime?: { name?: unknown; version?: unknown } };
  checks.expect(status.status === 200, `/api/v1/status answers 200 (${status.status})`);
  checks.expect(
    report.runtime?.name === "deno",
    `/api/v1/status reports runtime "deno" (${String(report.runtime?.name)} ${
      String(report.runtime?.version)
    })`,
  );
}

if (import.meta.main) {
  const dataDir = await mkdtemp(join(tmpdir(), "caddis-deno-smoke-"));
  onInterrupt(() => rm(dataDir, { recursive: true, force: true }));
  const port = await freePort();
  const env: Record<string, string> = {
    ...baseEnv(),
    CADDIS_HOST: "127.0.0.1",
    CADDIS_PORT: String(port),
    CADDIS_DATA_DIR: dataDir,
    CADDIS_ENV: "development",
  };
  if (process.env.DATABASE_URL) env.DATABASE_URL = process.env.DATABASE_URL;
  const database = env.DATABASE_URL ? "PostgreSQL server (DATABASE_URL)" : "embedded PGlite";
  console.log(`deno smoke: starting api/main-deno.ts on port ${port} with ${database}`);

  const started = performance.now();
  const server = launch("caddis on deno", [
    join(ROOT, "node_modules/.bin/deno"),
    "run",
    "-A",
    "api/main-deno.ts",
  ], { cwd: ROOT, env, port });
  const checks = new Checks();
  try {
    await smoke(server, checks);
  } catch (err) {
    checks.failures.push((err as Error).message);
    console.log(`  FAIL ${(err as Error).message}`);
  } finally {
    await stopAll();
    await rm(dataDir, { recursive: true, force: true });
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (checks.failures.length > 0) {
    console.error(`deno smoke: FAILED (${checks.failures.length} problem(s), ${seconds} s)`);
    console.error(`  output of ${server.name}:\n${outputTail(server)}`);
    process.exit(1);
  }
  console.log(`deno smoke: OK in ${seconds} s`);
}
