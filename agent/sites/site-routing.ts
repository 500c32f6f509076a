// What Caddy sends each served site to: the host's Caddy process, its coalescing config applier,
// and the upstream ports of every site. A site normally has one upstream; during a worker swap it
// has two (the new one added, then the old one released before it drains).
import type { DesiredState } from "../protocol/desired-state.ts";
import type { ToolInventory } from "../protocol/host-report.ts";
import type { DesiredSite } from "../protocol/sites.ts";
import type { Log } from "../log.ts";
import {
  applyCaddyConfig,
  type CaddyApplier,
  type CaddyApplyOptions,
  type CaddyApplyResult,
  createCaddyApplier,
} from "../caddy/caddy-config.ts";
import {
  type CaddyMode,
  type CaddyRenderInput,
  renderCaddyfile,
} from "../caddy/render-caddyfile.ts";
import { type CaddyPlaces, type CaddyProcess, createCaddyProcess } from "./caddy-process.ts";

/** How the host's Caddy is set up. */
export interface SiteRoutingOptions {
  mode: CaddyMode;
  httpPort: number;
  httpsPort: number | null;
  places: CaddyPlaces;
  template: string;
  log: Log;
  /** Replaces `applyCaddyConfig` (tests count loads through it). */
  applyCaddy?: (input: CaddyRenderInput, options: CaddyApplyOptions) => Promise<CaddyApplyResult>;
}

/** The host's site routes in Caddy. */
export interface SiteRouting {
  /** Starts (or finds) Caddy; resolves with why it cannot run, or null once it answers. */
  ensureCaddy(inventory: ToolInventory): Promise<string | null>;
  /**
   * Routes each served site to its worker's port (sites mid-swap keep their two upstreams), and
   * the panel's domain to the API when this host runs it.
   */
  sync(
    served: Map<string, number>,
    sites: ReadonlyMap<string, DesiredSite>,
    panel: DesiredState["panel"] | null,
  ): void;
  /** Renders and loads the routes; resolves with the error, or null once Caddy runs them. */
  publish(): Promise<string | null>;
  /** Adds `port` beside the site's upstream and loads it; throws when Caddy refuses. */
  switchUpstream(siteId: string, port: number): Promise<void>;
  /** Drops `port` from the site's upstreams and loads that; never throws. */
  releaseUpstream(siteId: string, port: number): Promise<void>;
  /** Stops routing a site at all (it is being removed); true when it had a route to drop. */
  drop(siteId: string): boolean;
  /** The last publish's error, null after one that loaded. */
  lastError(): string | null;
  stop(): Promise<void>;
}

/** Routing with no sites, and no Caddy until `ensureCaddy`. */
export function createSiteRouting(options: SiteRoutingOptions): SiteRouting {
  const routes = new Map<string, number[]>();
  const swapping = new Set<string>();
  let sites: ReadonlyMap<string, DesiredSite> = new Map();
  let panel: DesiredState["panel"] | null = null;
  let caddy: { process: CaddyProcess; applier: CaddyApplier } | null = null;
  // Set by `stop`: a start still under way (the tool inventory is slow) must not start a Caddy
  // that nobody would stop afterwards.
  let stopping = false;
  let error: string | null = null;
  // The routes of the last config Caddy loaded.
  let loaded: string | null = null;

  const input = (served: [string, number[]][]): CaddyRenderInput => ({
    adminSocket: options.places.adminSocket,
    mode: options.mode,
    httpPort: options.httpPort,
    httpsPort: options.httpsPort,
    logDir: options.places.logDir,
    panel: panel ? { domain: panel.domain, upstream: `127.0.0.1:${panel.apiPort}` } : null,
    sites: served.map(([id, upstreams]) => ({ id, domains: sites.get(id)!.domains, upstreams })),
  });

  const publish = async (): Promise<string | null> => {
    if (!caddy) return error = "Caddy is not running";
    const next = input([...routes].filter(([id]) => sites.get(id)?.enabled));
    // Reconnects re-send the same state and restarts re-route unchanged sites: skip those loads.
    const text = JSON.stringify(next);
    if (text === loaded && error === null) return null;
    const result = await caddy.applier.offer(next);
    if (result.applied) loaded = text;
    error = result.applied ? null : `Caddy config ${result.stage} failed: ${result.error}`;
    return error;
  };

  return {
    async ensureCaddy(inventory) {
      if (stopping) return error = "Caddy is not started: the agent is stopping";
      const caddyPath = inventory.caddy.path;
      if (!inventory.caddy.present || !caddyPath) {
        return error =
          "caddy is not installed on this host; its sites cannot be served until it is";
      }
      if (!caddy) {
        const config = { template: options.template, caddyPath, dir: options.places.dir };
        const apply = options.applyCaddy ?? applyCaddyConfig;
        caddy = {
          process: createCaddyProcess({
            caddyPath,
            places: options.places,
            emptyConfig: () => renderCaddyfile(options.template, input([])),
            log: options.log,
            // It may have started from the empty config rather than the last one loaded.
            onStart: () => {
              loaded = null;
              if (routes.size > 0) void publish();
            },
          }),
          applier: createCaddyApplier((next) => apply(next, config)),
        };
      }
      try {
        await caddy.process.ensureRunning();
        return null;
      } catch (err) {
        return error = `Caddy is not running: ${err instanceof Error ? err.message : String(err)}`;
      }
    },
    sync(served, desired, wantedPanel) {
      sites = desired;
      panel = wantedPanel ?? null;
      for (const id of [...routes.keys()]) {
        if (!served.has(id) && !swapping.has(id)) routes.delete(id);
      }
      for (const [id, port] of served) if (!swapping.has(id)) routes.set(id, [port]);
    },
    publish,
    async switchUpstream(siteId, port) {
      const before = routes.get(siteId);
      swapping.add(siteId);
      routes.set(siteId, [...(before ?? []).filter((p) => p !== port), port]);
      const failed = await publish();
      if (failed === null) return;
      if (before) routes.set(siteId, before);
      else routes.delete(siteId);
      swapping.delete(siteId);
      throw new Error(`Caddy could not be switched to the new worker: ${failed}`);
    },
    async releaseUpstream(siteId, port) {
      const left = (routes.get(siteId) ?? []).filter((p) => p !== port);
      if (left.length > 0) routes.set(siteId, left);
      swapping.delete(siteId);
      const failed = await publish();
      // The old worker is stopped anyway; Caddy retries its requests on the new one.
      if (failed !== null) {
        options.log.warn("Caddy kept a retired upstream", { siteId, error: failed });
      }
    },
    drop(siteId) {
      swapping.delete(siteId);
      return routes.delete(siteId);
    },
    lastError: () => error,
    async stop() {
      stopping = true;
      await caddy?.applier.idle();
      await caddy?.process.stop();
    },
  };
}
