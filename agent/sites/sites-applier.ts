// The `sites` section of the desired state: for each site its user (system mode), directories and
// worker, then Caddy routing each enabled, running site to its worker. Also the site commands'
// verbs (restart, remove) and each site's observed status. Sites fail alone: a missing runtime,
// a worker that will not start or a directory that cannot be made affects that site only.
import { mkdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { DesiredState, SectionReport } from "../protocol/desired-state.ts";
import type { AgentMode, ToolInventory } from "../protocol/host-report.ts";
import {
  type DesiredSite,
  type HostWeb,
  type ObservedSite,
  SITE_RUNTIMES,
} from "../protocol/sites.ts";
import type { Log } from "../log.ts";
import type { CaddyApplyOptions, CaddyApplyResult } from "../caddy/caddy-config.ts";
import type { CaddyRenderInput } from "../caddy/render-caddyfile.ts";
import { createWorkerLauncher } from "../workers/launcher.ts";
import { createSerial } from "../workers/serial.ts";
import { createSiteWorkers } from "../workers/site-workers.ts";
import type { SupervisorPolicy } from "../workers/supervisor-policy.ts";
import { availableRuntimes, type RuntimeBinaries } from "../workers/worker-command.ts";
import { stopLeftoverWorkers } from "../workers/worker-pids.ts";
import { caddyPlaces } from "./caddy-process.ts";
import {
  preparePlaces,
  prepareSiteDirs,
  siteLayout,
  type SitePlaces,
  siteRoot,
} from "./site-paths.ts";
import { createSiteRouting } from "./site-routing.ts";
import { observeSite, siteDrift, type SiteProblem } from "./site-status.ts";
import { ensureSiteUser, makeDirAs, removeSiteUsers, type SiteUserDeps } from "./site-users.ts";
import { type DiscardResult, discardSiteFiles } from "./trash.ts";

/** How a host runs its sites. */
export interface SitesOptions {
  mode: AgentMode;
  stateDir: string;
  places: SitePlaces;
  httpPort: number;
  /** Null in sandbox mode: plain HTTP only. */
  httpsPort: number | null;
  /** Caddyfile.template's text. */
  template: string;
  inventory: () => Promise<ToolInventory>;
  /** Called when a site's worker changes state between applies (a crash, a restart). */
  onChange: () => void;
  log: Log;
  now: () => Date;
  policy?: Partial<SupervisorPolicy>;
  users?: SiteUserDeps;
  applyCaddy?: (input: CaddyRenderInput, options: CaddyApplyOptions) => Promise<CaddyApplyResult>;
}

/** The host's sites. */
export interface Sites {
  /** What `hello` says about how this host serves sites. */
  web: HostWeb;
  /** Starts (or finds) Caddy and its last good config, before any desired state; never throws. */
  start(): Promise<void>;
  /** The reconciler's `sites` applier. */
  apply(state: DesiredState): Promise<SectionReport>;
  /** Every desired site's status. */
  observed(): ObservedSite[];
  /** `site.restart`: a new worker on the site's other port; resolves with that port. */
  restart(siteId: string): Promise<{ port: number }>;
  /** `site.remove`: worker and route gone, files trashed or purged, site user deleted. */
  remove(siteId: string, purge: boolean): Promise<DiscardResult>;
  /** Stops every worker and the Caddy this agent started. */
  stop(): Promise<void>;
}

/** Caddyfile.template, from the root of the Caddis checkout the agent runs from. */
export function readCaddyTemplate(): Promise<string> {
  return readFile(
    join(dirname(fileURLToPath(import.meta.url)), "../../Caddyfile.template"),
    "utf8",
  );
}

/** Caddy's ports: 80 and 443 in system mode; plain HTTP on `sandboxHttpPort` in sandbox mode. */
export function servingPorts(
  mode: AgentMode,
  sandboxHttpPort: number,
): { httpPort: number; httpsPort: number | null } {
  return mode === "system"
    ? { httpPort: 80, httpsPort: 443 }
    : { httpPort: sandboxHttpPort, httpsPort: null };
}

const message = (err: unknown) => err instanceof Error ? err.message : String(err);

/** The sites of a host; nothing runs until `start` or the first `apply`. */
export function createSites(options: SitesOptions): Sites {
  const { places, mode } = options;
  const system = mode === "system";
  // Filled from the tool inventory at each apply; the launcher reads it when it starts a worker.
  const binaries: RuntimeBinaries = {};
  let desired = new Map<string, DesiredSite>();
  let panel: DesiredState["panel"] | null = null;
  // Once stopping, nothing starts again: an apply queued behind `stop` would leave workers behind.
  let stopping = false;
  // Why a site could not be started by the last apply, or could not be restarted since.
  const problems = new Map<string, SiteProblem>();
  // Applies and removals never overlap, so a site being removed is not prepared again meanwhile.
  const serial = createSerial();
  // Workers a previous agent left running (it died hard) are stopped before any starts here.
  const pidDir = join(options.stateDir, "run", "workers");
  let leftovers: Promise<void> | null = null;
  const stopLeftovers = () =>
    leftovers ??= stopLeftoverWorkers(pidDir).then((pids) => {
      if (pids.length > 0) options.log.warn("stopped workers a previous agent left", { pids });
    });
  const routing = createSiteRouting({
    mode,
    httpPort: options.httpPort,
    httpsPort: options.httpsPort,
    places: caddyPlaces(options.stateDir),
    template: options.template,
    log: options.log,
    applyCaddy: options.applyCaddy,
  });
  const workers = createSiteWorkers({
    launch: createWorkerLauncher({
      binaries,
      releaseDir: (site) => siteLayout(places.sitesDir, site).current,
      tmpDir: (site) => siteLayout(places.sitesDir, site).tmp,
      asSiteUser: system,
      pidDir,
    }),
    switchUpstream: routing.switchUpstream,
    releaseUpstream: routing.releaseUpstream,
    // A site owns `port` and `port + 1`; a restart moves its worker to the one not serving.
    sparePort: (site, serving) =>
      Promise.resolve(serving === site.port ? site.port + 1 : site.port),
    onStatus: () => options.onChange(),
    policy: options.policy,
  });

  async function prepare(site: DesiredSite): Promise<void> {
    const layout = siteLayout(places.sitesDir, site);
    if (!system) {
      await prepareSiteDirs(layout, null, (path) => mkdir(path, { recursive: true, mode: 0o750 }));
      return;
    }
    const identity = await ensureSiteUser(site.user, layout.root, options.users);
    await prepareSiteDirs(layout, identity, (path) => makeDirAs(path, identity));
  }

  /** Why an enabled site cannot run here, checked before its worker is started. */
  async function blocker(site: DesiredSite): Promise<string | null> {
    if (!binaries[site.runtime]) {
      const installed = Object.keys(binaries);
      const choose = installed.length > 0
        ? `choose ${installed.join(" or ")} or install it`
        : "install it";
      return `runtime ${site.runtime} is not installed on this host; ${choose}`;
    }
    return await prepare(site).then(
      () => null,
      (err) => `Cannot prepare site ${site.id}: ${message(err)}`,
    );
  }

  /** Routes every enabled site with a supervised worker, and loads that into Caddy. */
  async function route(): Promise<string | null> {
    const served = new Map<string, number>();
    for (const site of desired.values()) {
      const status = workers.status(site.id);
      if (site.enabled && status && status.state !== "stopped" && status.state !== "failed") {
        served.set(site.id, status.port);
      }
    }
    routing.sync(served, desired, panel);
    return await routing.publish();
  }

  async function apply(state: DesiredState): Promise<SectionReport> {
    if (stopping) return { ok: false, drift: [], error: "the agent is stopping" };
    await stopLeftovers();
    desired = new Map(state.sites.map((site) => [site.id, site]));
    panel = state.panel ?? null;
    problems.clear();
    const inventory = await options.inventory();
    for (const runtime of SITE_RUNTIMES) delete binaries[runtime];
    Object.assign(binaries, availableRuntimes(inventory));
    const caddyDown = await routing.ensureCaddy(inventory);
    if (caddyDown !== null) {
      // Workers nobody can reach are not started; the section says why.
      await workers.apply([]);
      for (const site of state.sites) {
        if (site.enabled) problems.set(site.id, { status: "pending", error: caddyDown });
      }
      return { ok: false, drift: drift(), error: caddyDown };
    }
    await preparePlaces(places);
    const runnable = await Promise.all(state.sites.map(async (site) => {
      const blocked = site.enabled ? await blocker(site) : null;
      if (blocked === null) return site;
      problems.set(site.id, { status: "failed", error: blocked });
      return { ...site, enabled: false };
    }));
    for (const report of await workers.apply(runnable)) {
      if (report.error) problems.set(report.siteId, { status: null, error: report.error });
    }
    const caddyError = await route();
    return { ok: caddyError === null, drift: drift(), error: caddyError };
  }

  const observed = () =>
    [...desired.values()].map((site) =>
      observeSite(site, workers.status(site.id), problems.get(site.id), routing.lastError())
    );
  const drift = () => siteDrift(observed(), desired);

  return {
    web: { httpPort: options.httpPort, httpsPort: options.httpsPort, sitesDir: places.sitesDir },
    async start() {
      const caddyDown = await options.inventory().then(
        (inventory) => routing.ensureCaddy(inventory),
        (err) => `the tool inventory failed: ${message(err)}`,
      );
      if (caddyDown !== null) options.log.warn("sites cannot be served yet", { error: caddyDown });
    },
    apply: (state) => serial.run(() => apply(state)),
    observed,
    async restart(siteId) {
      const site = desired.get(siteId);
      if (!site) throw new Error(`Cannot restart site ${siteId}: this host does not run it`);
      if (!site.enabled) throw new Error(`Cannot restart site ${siteId}: it is stopped`);
      const port = await workers.restart(siteId);
      if (problems.get(siteId)?.status === null) problems.delete(siteId);
      const caddyError = await route();
      if (caddyError !== null) throw new Error(`Site ${siteId} restarted, but ${caddyError}`);
      return { port };
    },
    remove: (siteId, purge) =>
      serial.run(async () => {
        const root = siteRoot(places.sitesDir, siteId);
        desired.delete(siteId);
        problems.delete(siteId);
        await workers.remove(siteId);
        if (routing.drop(siteId)) {
          const caddyError = await routing.publish();
          if (caddyError !== null) {
            throw new Error(`Cannot remove site ${siteId} from Caddy: ${caddyError}`);
          }
        }
        const result = await discardSiteFiles(places, siteId, purge, options.now());
        if (system) await removeSiteUsers(root, options.users);
        return result;
      }),
    async stop() {
      stopping = true;
      await serial.run(async () => {
        await workers.stopAll();
        await routing.stop();
      });
    },
  };
}
