// The agent's own Caddy: started, restarted after it dies, found when already running, stopped.
import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { currentConfig, isCaddyUp } from "../caddy/caddy-admin.ts";
import { caddyfilePaths } from "../caddy/caddy-config.ts";
import { type CaddySite, renderCaddyfile } from "../caddy/render-caddyfile.ts";
import { writeFileAtomic } from "../atomic-write.ts";
import { silentLog } from "../log.ts";
import { tempDir } from "../test-fixtures.ts";
import { testWithTools } from "../../scripts/testing/tools.ts";
import { waitFor } from "../../scripts/testing/wait.ts";
import { caddyPlaces, type CaddyProcess, createCaddyProcess } from "./caddy-process.ts";
import { readCaddyTemplate } from "./sites-applier.ts";
import { freePort } from "../../scripts/testing/ports.ts";

setDefaultTimeout(60_000);

const template = await readCaddyTemplate();
const caddyPath = Bun.which("caddy") ?? "caddy";

let dir: string;
let remove: () => Promise<void>;
let started: CaddyProcess[];
beforeEach(async () => {
  ({ dir, remove } = await tempDir("caddy-process"));
  started = [];
});
afterEach(async () => {
  for (const caddy of started) await caddy.stop();
  await remove();
});

function config(places = caddyPlaces(dir), sites: CaddySite[] = []) {
  return renderCaddyfile(template, {
    adminSocket: places.adminSocket,
    mode: "sandbox",
    httpPort: freePort(),
    httpsPort: null,
    logDir: places.logDir,
    panel: null,
    sites,
  });
}

function caddy(overrides: { caddyPath?: string } = {}): CaddyProcess {
  const places = caddyPlaces(dir);
  const process = createCaddyProcess({
    caddyPath: overrides.caddyPath ?? caddyPath,
    places,
    emptyConfig: () => config(places),
    log: silentLog,
    backoff: { baseMs: 10, capMs: 50 },
  });
  started.push(process);
  return process;
}

const mode = async (path: string) => (await stat(path)).mode & 0o777;

describe("the agent's Caddy", () => {
  testWithTools(["caddy"], "starts from an empty config with a private admin socket", async () => {
    const places = caddyPlaces(dir);
    const process = caddy();
    await process.ensureRunning();
    expect(process.pid()).toBeGreaterThan(0);
    expect(await isCaddyUp(places.adminSocket)).toBe(true);
    expect(await mode(places.dir)).toBe(0o700);
    expect(await mode(join(places.dir, "admin"))).toBe(0o700);
    expect(await mode(places.adminSocket)).toBe(0o600);
    await process.stop();
    expect(await isCaddyUp(places.adminSocket)).toBe(false);
  });

  testWithTools(["caddy"], "starts from the last good config when there is one", async () => {
    const places = caddyPlaces(dir);
    await caddy().ensureRunning(); // makes the directories
    await started.pop()!.stop();
    const site = { id: "site_lg", domains: ["lastgood.example.com"], upstreams: [20_000] };
    await writeFileAtomic(caddyfilePaths(places.dir).lastGood, config(places, [site]), 0o600);
    await caddy().ensureRunning();
    const running = JSON.stringify(await currentConfig(places.adminSocket));
    expect(running).toContain('"host":["lastgood.example.com"]');
  });

  testWithTools(["caddy"], "is restarted after it is killed", async () => {
    const process = caddy();
    await process.ensureRunning();
    const first = process.pid()!;
    globalThis.process.kill(first, "SIGKILL");
    await waitFor(
      "a new Caddy",
      () => process.pid() !== null && process.pid() !== first,
      20_000,
      20,
    );
    expect(await isCaddyUp(caddyPlaces(dir).adminSocket)).toBe(true);
  });

  testWithTools(
    ["caddy"],
    "uses a Caddy already answering on the socket, and leaves it running",
    async () => {
      const owner = caddy();
      await owner.ensureRunning();
      const finder = caddy();
      await finder.ensureRunning();
      expect(finder.pid()).toBeNull();
      await finder.stop();
      expect(await isCaddyUp(caddyPlaces(dir).adminSocket)).toBe(true);
    },
  );

  testWithTools(
    ["caddy"],
    "falls back to the empty config when the last good one cannot start",
    async () => {
      const places = caddyPlaces(dir);
      await caddy().ensureRunning();
      await started.pop()!.stop();
      await writeFileAtomic(caddyfilePaths(places.dir).lastGood, "not { a caddyfile", 0o600);
      await caddy().ensureRunning();
      expect(await readFile(join(places.dir, "Caddyfile.empty"), "utf8")).toContain("admin unix/");
    },
  );

  test("says why when Caddy cannot be run at all", async () => {
    const process = caddy({ caddyPath: join(dir, "no-caddy") });
    await expect(process.ensureRunning()).rejects.toThrow(`cannot run ${join(dir, "no-caddy")}`);
  });
});
