// Test-only: a host's sites in sandbox mode in a temp directory, served by a real Caddy on a free
// loopback port, with Caddy loads counted. Nothing here runs in the agent itself.
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { DesiredState } from "../protocol/desired-state.ts";
import type { ToolInventory } from "../protocol/host-report.ts";
import type { DesiredSite } from "../protocol/sites.ts";
import { applyCaddyConfig } from "../caddy/caddy-config.ts";
import { collectInventory } from "../inventory.ts";
import { silentLog } from "../log.ts";
import { tempDir, testEnvelope } from "../test-fixtures.ts";
import { cleanupsAfterEach } from "../../scripts/testing/cleanups.ts";
import { freePort } from "../../scripts/testing/ports.ts";
import { siteCommandHandlers } from "./site-commands.ts";
import { siteLayout, type SitePlaces, sitePlaces } from "./site-paths.ts";
import { createSites, readCaddyTemplate, type Sites } from "./sites-applier.ts";

/** A supervisor that gives up fast, so a crash loop fails within a second. */
export const FAST_POLICY = {
  backoff: { baseMs: 20, capMs: 100 },
  startTimeoutMs: 10_000,
  stopGraceMs: 2_000,
};

/** The sites under test and what they did. */
export interface TestSites {
  sites: Sites;
  places: SitePlaces;
  stateDir: string;
  httpPort: number;
  /** Configs offered to Caddy's admin API so far. */
  loads(): number;
  /** Status changes reported between applies so far. */
  changes(): number;
  /** A desired state holding `sites`, with a fresh revision. */
  state(sites: DesiredSite[]): DesiredState;
  /** GET / through Caddy as `host` would be asked for. */
  get(host: string): Promise<{ status: number; body: string; headers: Headers }>;
  remove(): Promise<void>;
}

let hostInventory: Promise<ToolInventory> | null = null;
let revision = 0;

/** An even port that, with the next one, was free a moment ago: a site's worker pair. */
export function freePortPair(): number {
  for (;;) {
    const port = freePort() & ~1;
    if (port < 1024) continue;
    try {
      const taken = [port, port + 1].map((p) =>
        Bun.listen({ hostname: "127.0.0.1", port: p, socket: { data() {} } })
      );
      for (const listener of taken) listener.stop(true);
      return port;
    } catch {
      // one of the pair is in use; try another
    }
  }
}

/** A php-cli site with one domain on a free pair of ports. */
export function phpSite(id: string, domain: string, overrides: Partial<DesiredSite> = {}) {
  return {
    id,
    domains: [domain],
    runtime: "php-cli",
    docroot: "public",
    workerScript: null,
    port: freePortPair(),
    user: "caddis",
    env: {},
    enabled: true,
    ...overrides,
  } satisfies DesiredSite;
}

/** Sites in sandbox mode in a fresh temp directory; `tools` may edit the host's real inventory. */
export async function createTestSites(
  tools: (inventory: ToolInventory) => ToolInventory = (inventory) => inventory,
): Promise<TestSites> {
  const { dir, remove } = await tempDir("sites");
  const stateDir = join(dir, "state");
  await mkdir(stateDir, { mode: 0o700 });
  const places = sitePlaces("sandbox", stateDir);
  const httpPort = freePort();
  let loads = 0;
  let changes = 0;
  const sites = createSites({
    mode: "sandbox",
    stateDir,
    places,
    httpPort,
    httpsPort: null,
    template: await readCaddyTemplate(),
    inventory: async () => tools(await (hostInventory ??= collectInventory())),
    onChange: () => changes++,
    log: silentLog,
    now: () => new Date(),
    policy: FAST_POLICY,
    applyCaddy: (input, options) => {
      loads += 1;
      return applyCaddyConfig(input, options);
    },
  });
  return {
    sites,
    places,
    stateDir,
    httpPort,
    loads: () => loads,
    changes: () => changes,
    state: (list) => ({ hostId: "host_test", revision: ++revision, sites: list }),
    async get(host) {
      const response = await fetch(`http://127.0.0.1:${httpPort}/`, { headers: { host } });
      return { status: response.status, body: await response.text(), headers: response.headers };
    },
    async remove() {
      await sites.stop();
      await remove();
    },
  };
}

/** A page that says which site answered, and the GREETING it was given. */
export const INDEX = `<?php echo "hello from ", getenv("SITE_NAME"), " ", getenv("GREETING");`;

/** Writes INDEX as index.php into the docroot the applier created for `site`. */
export async function writeIndex(host: TestSites, site: DesiredSite): Promise<void> {
  await writeFile(join(siteLayout(host.places.sitesDir, site).docroot, "index.php"), INDEX);
}

/** Runs a site command's handler as the dispatcher would. */
export function siteCommand(host: TestSites, kind: string, siteId: string, payload = {}) {
  const handlers = siteCommandHandlers(host.sites);
  const envelope = testEnvelope("host_test", { kind, siteId, payload });
  return handlers[kind]!(payload, { command: envelope, signal: new AbortController().signal });
}

/** The pid of the process whose command line holds `argument`. */
export async function pidWithArgument(argument: string): Promise<number> {
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (cmdline.split("\0").includes(argument)) return Number(entry);
  }
  throw new Error(`no process runs with ${argument}`);
}

/**
 * For a test file: `setUp` makes test sites that are removed after the test that made them, and
 * `onCleanup` queues more to undo then (in reverse order).
 */
export function testSitesPerTest(): {
  setUp: (...args: Parameters<typeof createTestSites>) => Promise<TestSites>;
  onCleanup: (undo: () => unknown) => void;
} {
  const onCleanup = cleanupsAfterEach();
  return {
    async setUp(...args) {
      const host = await createTestSites(...args);
      onCleanup(host.remove);
      return host;
    },
    onCleanup,
  };
}

/** What the host last observed of one site. */
export const statusOf = (host: TestSites, id: string) =>
  host.sites.observed().find((s) => s.id === id);
