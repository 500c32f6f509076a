// The CLI as a real process: argument handling, enrolment over HTTP, and run until SIGTERM.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CLOSE } from "./protocol/version.ts";
import { stateFilePath } from "./state-file.ts";
import { type FakeApi, startFakeApi } from "./test-api.ts";
import { tempDir } from "./test-fixtures.ts";
import { waitFor } from "../scripts/testing/wait.ts";

const MAIN = join(import.meta.dir, "main.ts");
const TOKEN = `cde_${"q".repeat(52)}`;
let dir: string;
let remove: () => Promise<void>;
let api: FakeApi;

beforeEach(async () => {
  ({ dir, remove } = await tempDir("main"));
  api = await startFakeApi({ enrolToken: TOKEN });
});
afterEach(async () => {
  await api.stop();
  await remove();
});

function spawnMain(args: string[], env: Record<string, string> = {}) {
  return Bun.spawn([process.execPath, MAIN, ...args], {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      CADDIS_AGENT_DIR: join(dir, "agent"),
      ...env,
    },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
}

async function runMain(args: string[], env: Record<string, string> = {}) {
  const proc = spawnMain(args, env);
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { stdout, stderr, code };
}

describe("caddis agent CLI", () => {
  test("refuses --token, says to use CADDIS_ENROL_TOKEN, and never prints the value", async () => {
    const { stdout, stderr, code } = await runMain(["enroll", "--api", api.url, "--token", TOKEN]);
    expect(code).toBe(2);
    expect(stderr).toContain("set CADDIS_ENROL_TOKEN");
    expect(stderr.trim().split("\n")).toHaveLength(1);
    expect(stdout + stderr).not.toContain(TOKEN);
  });

  test("enrols with the token from the environment and writes a private state file", async () => {
    const { stdout, stderr, code } = await runMain(["enroll", "--api", api.url], {
      CADDIS_ENROL_TOKEN: TOKEN,
    });
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toContain(`enrolled as host ${api.hostId}`);
    expect(stdout).not.toContain(TOKEN);
    expect((await stat(stateFilePath(join(dir, "agent")))).mode & 0o777).toBe(0o600);
  });

  test("enrols with --token-file", async () => {
    const tokenFile = join(dir, "token");
    await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    const { code } = await runMain(["enroll", "--api", api.url, "--token-file", tokenFile]);
    expect(code).toBe(0);
  });

  test("a refused enrolment exits 1 with one line and no token", async () => {
    const other = `cde_${"z".repeat(52)}`;
    const { stderr, code } = await runMain(["enroll", "--api", api.url], {
      CADDIS_ENROL_TOKEN: other,
    });
    expect(code).toBe(1);
    expect(stderr).toContain("the enrolment token is invalid or used");
    expect(stderr).not.toContain(other);
  });

  test("run without an enrolment exits 1 saying so", async () => {
    const { stderr, code } = await runMain(["run"]);
    expect(code).toBe(1);
    expect(stderr).toContain("the agent is not enrolled");
  });

  test("run connects in the configured mode and stops cleanly on SIGTERM", async () => {
    expect((await runMain(["enroll", "--api", api.url], { CADDIS_ENROL_TOKEN: TOKEN })).code).toBe(
      0,
    );
    const proc = spawnMain(["run"], { CADDIS_AGENT_MODE: "sandbox" });
    await waitFor("hello", () => api.framesOf("hello").length === 1);
    expect(api.framesOf("hello")[0]).toMatchObject({
      mode: "sandbox",
      modeReason: process.getuid?.() === 0 ? "CADDIS_AGENT_MODE=sandbox" : "not running as root",
    });
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    await waitFor("the close", () => api.closes.length === 1);
    expect(api.closes[0]?.code).toBe(CLOSE.normal);
  });
});
