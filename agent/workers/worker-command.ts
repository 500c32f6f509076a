// What a site's worker process is started with: its argv and its whole environment. Pure, so the
// exact command line is tested as text. Every site value is checked against the shared allowlists
// again here, because this is where it reaches a command line; env values (secrets) only ever
// go into the environment, never into argv.
import { join } from "node:path";
import type { ToolInventory } from "../protocol/host-report.ts";
import {
  type DesiredSite,
  ENV_NAME_PATTERN,
  RELATIVE_PATH_PATTERN,
  SITE_RUNTIMES,
  SITE_USER_PATTERN,
  type SiteRuntime,
  WORKER_PORT_BOUNDS,
} from "../protocol/sites.ts";
import { DEFAULT_PATH } from "../exec.ts";

/** The worker binary of each runtime present on a host, by absolute path. */
export type RuntimeBinaries = Partial<Record<SiteRuntime, string>>;

/** Where one worker runs: all absolute paths chosen by the agent, never by the site. */
export interface WorkerPlaces {
  /** The site's current release; the docroot and worker script are inside it. */
  releaseDir: string;
  home: string;
  /** A directory only the site's user can enter. */
  tmpDir: string;
}

const TOOL_OF_RUNTIME: Record<SiteRuntime, "frankenphp" | "php"> = {
  frankenphp: "frankenphp",
  "php-cli": "php",
};

/** The runtimes a host can run, from the agent's tool inventory (php → php-cli). */
export function availableRuntimes(inventory: ToolInventory): RuntimeBinaries {
  const binaries: RuntimeBinaries = {};
  for (const runtime of SITE_RUNTIMES) {
    const tool = inventory[TOOL_OF_RUNTIME[runtime]];
    if (tool?.present && tool.path) binaries[runtime] = tool.path;
  }
  return binaries;
}

/**
 * The argv that serves `site` on 127.0.0.1:`port`. PHP's built-in server has no worker mode, so
 * php-cli serves the docroot classically even when the site names a worker script.
 */
export function workerArgv(
  site: DesiredSite,
  port: number,
  binaries: RuntimeBinaries,
  releaseDir: string,
): string[] {
  checkSite(site, port);
  checkAbsolute("release directory", releaseDir);
  const binary = binaries[site.runtime];
  if (!binary) {
    throw new Error(`Cannot start site ${site.id}: runtime ${site.runtime} is not installed here`);
  }
  // Joined under an absolute directory, a value like "-x" is a path, never an option; the
  // allowlist has no "." or ".." segments, so the join cannot climb out of the release.
  const docroot = join(releaseDir, site.docroot);
  const address = `127.0.0.1:${port}`;
  if (site.runtime === "php-cli") return [binary, "-S", address, "-t", docroot];
  const argv = [binary, "php-server", "--listen", address, "--root", docroot];
  if (site.workerScript !== null) argv.push("--worker", join(releaseDir, site.workerScript));
  return argv;
}

/**
 * The worker's entire environment: the site's variables, then PATH, HOME and TMPDIR, which the
 * agent sets last so a site cannot point them elsewhere. Nothing comes from the agent's own.
 */
export function workerEnv(site: DesiredSite, places: WorkerPlaces): Record<string, string> {
  checkAbsolute("home directory", places.home);
  checkAbsolute("temp directory", places.tmpDir);
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(site.env)) {
    if (!ENV_NAME_PATTERN.test(name)) {
      throw new Error(`Cannot start site ${site.id}: env name ${JSON.stringify(name)} is invalid`);
    }
    // The value is a secret: the message names the variable only.
    if (value.includes("\0")) {
      throw new Error(`Cannot start site ${site.id}: env ${name} contains a NUL byte`);
    }
    env[name] = value;
  }
  return { ...env, PATH: DEFAULT_PATH, HOME: places.home, TMPDIR: places.tmpDir };
}

function checkSite(site: DesiredSite, port: number): void {
  const refuse = (field: string, value: unknown) => {
    throw new Error(`Cannot start site ${site.id}: ${field} ${JSON.stringify(value)} is invalid`);
  };
  if (!(SITE_RUNTIMES as readonly string[]).includes(site.runtime)) refuse("runtime", site.runtime);
  if (!RELATIVE_PATH_PATTERN.test(site.docroot)) refuse("docroot", site.docroot);
  if (site.workerScript !== null) {
    if (!site.workerScript || !RELATIVE_PATH_PATTERN.test(site.workerScript)) {
      refuse("workerScript", site.workerScript);
    }
  }
  if (!SITE_USER_PATTERN.test(site.user)) refuse("user", site.user);
  if (
    !Number.isInteger(port) || port < WORKER_PORT_BOUNDS.min || port > WORKER_PORT_BOUNDS.max
  ) refuse("port", port);
}

function checkAbsolute(what: string, path: string): void {
  if (!path.startsWith("/") || path.includes("\0")) {
    throw new Error(`The worker ${what} must be an absolute path, not ${JSON.stringify(path)}`);
  }
}
