import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServerProcess } from "../scripts/testing/process.ts";

// What `npm start` runs, on a fresh data directory: the embedded default end to end.
let tempDir: string;
let dataDir: string;
const entry = [process.execPath, "api/main-bun.ts"];

beforeAll(async () => {
  tempDir = await mkdtemp(join(tmpdir(), "caddis-start-"));
  // Not created yet: Caddis must create it, private to its user.
  dataDir = join(tempDir, "data");
});
afterAll(() => rm(tempDir, { recursive: true, force: true }));

function env(extra: Record<string, string> = {}) {
  return { CADDIS_DATA_DIR: dataDir, CADDIS_PORT: "0", ...extra };
}

test(
  "starts on the embedded database, serves /status, and keeps its data across a restart",
  async () => {
    const first = await startServerProcess(entry, env());
    try {
      const status = await fetch(`${first.url}/api/v1/status`);
      expect(status.status).toBe(200);
      const report = await status.json() as {
        runtime: { name: string };
        database: { kind: string };
      };
      expect(report).toMatchObject({ runtime: { name: "bun" }, database: { kind: "embedded" } });
      expect((await fetch(`${first.url}/status`)).status).toBe(200);
      expect(first.output()).toContain("Development secrets were generated");
    } finally {
      expect(await first.stop()).toBe(0);
    }
    expect((await stat(join(dataDir, "secrets.env"))).mode & 0o777).toBe(0o600);
    expect((await stat(dataDir)).mode & 0o777).toBe(0o700);

    const second = await startServerProcess(entry, env());
    try {
      const ready = await fetch(`${second.url}/readyz`);
      expect(ready.status).toBe(200);
      // Same secrets file, same database: nothing regenerated, nothing re-initialised.
      expect(second.output()).not.toContain("Development secrets were generated");
    } finally {
      expect(await second.stop()).toBe(0);
    }
  },
  90_000,
);

test("refuses to start in production without secrets, naming each missing one", async () => {
  const proc = Bun.spawn(entry, {
    env: { PATH: process.env.PATH ?? "", ...env({ CADDIS_ENV: "production" }) },
    stdout: "pipe",
    stderr: "pipe",
  });
  const code = await proc.exited;
  const stderr = await new Response(proc.stderr).text();
  expect(code).toBe(1);
  expect(stderr).toContain("CADDIS_SECRET_KEY: required in production");
  expect(stderr).toContain("CADDIS_ENCRYPTION_KEYS: required in production");
  expect(stderr).toContain("CADDIS_AGENT_SIGNING_KEY: required in production");
}, 30_000);
