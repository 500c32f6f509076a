// All of a host's site workers: `apply` brings them in line with the desired sites. Each site has
// its own supervisor and its own queue, so one operation per site runs at a time and a site that
// crashes or fails to restart never holds up or touches another.
import type { DesiredSite } from "../protocol/sites.ts";
import type { Clock } from "./clock.ts";
import { openConnections } from "./connections.ts";
import { checkWorkerHealth } from "./health-check.ts";
import type { LaunchWorker } from "./launcher.ts";
import { createSerial, type Serial } from "./serial.ts";
import { createWorkerSupervisor, type WorkerSupervisor } from "./supervisor.ts";
import type { SupervisorPolicy, WorkerStatus } from "./supervisor-policy.ts";

/** What the manager needs from the world. */
export interface SiteWorkersDeps {
  launch: LaunchWorker;
  /** Points Caddy's upstream for `siteId` at `port`; resolves once requests go there. */
  switchUpstream(siteId: string, port: number): Promise<void>;
  /** Stops Caddy sending new requests for `siteId` to the old worker's `port`; never throws. */
  releaseUpstream?(siteId: string, port: number): Promise<void>;
  /** A free port on 127.0.0.1 for the second worker of a zero-downtime restart of `site`. */
  sparePort(site: DesiredSite, serving: number): Promise<number>;
  onStatus(siteId: string, status: WorkerStatus): void;
  healthCheck?(port: number): Promise<boolean>;
  inFlight?(port: number): Promise<number>;
  clock?: Clock;
  policy?: Partial<SupervisorPolicy>;
}

/** How one site came out of an `apply`. */
export interface SiteWorkerReport {
  siteId: string;
  /** Null once a removed or disabled site's worker is gone. */
  status: WorkerStatus | null;
  /** Why this apply could not do what it should (a restart whose new worker did not come up). */
  error: string | null;
}

/** The host's site workers. */
export interface SiteWorkers {
  /** Starts new and enabled sites, stops removed and disabled ones, restarts changed ones. */
  apply(sites: DesiredSite[]): Promise<SiteWorkerReport[]>;
  status(siteId: string): WorkerStatus | null;
  /**
   * Replaces a running site's worker without dropping requests, on its spare port; resolves with
   * the port it serves on now. Throws when the site runs no worker here.
   */
  restart(siteId: string): Promise<number>;
  /** Stops one site's worker, whatever the desired sites say (the site is being removed). */
  remove(siteId: string): Promise<void>;
  /** Stops every worker, as the agent shuts down. */
  stopAll(): Promise<void>;
}

interface Slot {
  serial: Serial;
  pending: number;
  /** The desired site the worker runs (or is being restarted) with. */
  site: DesiredSite | null;
  supervisor: WorkerSupervisor | null;
}

/** A manager with no workers yet. */
export function createSiteWorkers(deps: SiteWorkersDeps): SiteWorkers {
  const slots = new Map<string, Slot>();

  function supervise(slot: Slot, site: DesiredSite): WorkerSupervisor {
    return createWorkerSupervisor({
      port: site.port,
      // Reads the slot, so crash restarts after a change use the changed site.
      spawn: (port) => deps.launch(slot.site ?? site, port),
      healthCheck: deps.healthCheck ?? checkWorkerHealth,
      inFlight: deps.inFlight ?? openConnections,
      sparePort: () =>
        deps.sparePort(slot.site ?? site, slot.supervisor?.status().port ?? site.port),
      switchUpstream: (port) => deps.switchUpstream(site.id, port),
      releaseUpstream: (port) => deps.releaseUpstream?.(site.id, port) ?? Promise.resolve(),
      onStatus: (status) => deps.onStatus(site.id, status),
      clock: deps.clock,
      policy: deps.policy,
    });
  }

  async function converge(slot: Slot, wanted: DesiredSite | null): Promise<void> {
    if (!wanted?.enabled) {
      const supervisor = slot.supervisor;
      slot.supervisor = null;
      slot.site = null;
      await supervisor?.stop();
      return;
    }
    const previous = slot.site;
    if (!slot.supervisor || !previous) {
      slot.site = wanted;
      slot.supervisor = supervise(slot, wanted);
      await slot.supervisor.start();
      return;
    }
    if (!workerChanged(previous, wanted)) return;
    const serving = slot.supervisor.status().port;
    slot.site = wanted;
    try {
      // A new desired port is taken by the new worker; otherwise it takes a spare one.
      await slot.supervisor.restart(wanted.port !== serving ? wanted.port : undefined);
    } catch (err) {
      // The old worker still serves: crash restarts keep its settings, the next apply retries.
      slot.site = previous;
      throw err;
    }
  }

  /** Runs `operation` in the site's queue, creating its slot for the time it takes. */
  function inSlot<T>(siteId: string, operation: (slot: Slot) => Promise<T>): Promise<T> {
    let slot = slots.get(siteId);
    if (!slot) {
      slot = { serial: createSerial(), pending: 0, site: null, supervisor: null };
      slots.set(siteId, slot);
    }
    const own = slot;
    own.pending += 1;
    return own.serial.run(async () => {
      try {
        return await operation(own);
      } finally {
        own.pending -= 1;
        if (own.pending === 0 && !own.supervisor) slots.delete(siteId);
      }
    });
  }

  function enqueue(siteId: string, wanted: DesiredSite | null): Promise<SiteWorkerReport> {
    return inSlot(siteId, async (slot) => {
      let error: string | null = null;
      try {
        await converge(slot, wanted);
      } catch (err) {
        error = err instanceof Error ? err.message : String(err);
      }
      return { siteId, status: slot.supervisor?.status() ?? null, error };
    });
  }

  return {
    apply(sites) {
      const wanted = new Map(sites.map((site) => [site.id, site]));
      const ids = new Set([...wanted.keys(), ...slots.keys()]);
      return Promise.all([...ids].map((id) => enqueue(id, wanted.get(id) ?? null)));
    },
    status: (siteId) => slots.get(siteId)?.supervisor?.status() ?? null,
    restart(siteId) {
      return inSlot(siteId, async (slot) => {
        if (!slot.supervisor || !slot.site) {
          throw new Error(`Cannot restart site ${siteId}: it runs no worker on this host`);
        }
        const serving = slot.supervisor.status().port;
        await slot.supervisor.restart(await deps.sparePort(slot.site, serving));
        return slot.supervisor.status().port;
      });
    },
    async remove(siteId) {
      await enqueue(siteId, null);
    },
    async stopAll() {
      await Promise.all([...slots.keys()].map((id) => enqueue(id, null)));
    },
  };
}

/** Whether a change to the site needs a new worker (domains alone are Caddy's business). */
function workerChanged(before: DesiredSite, after: DesiredSite): boolean {
  return before.runtime !== after.runtime || before.docroot !== after.docroot ||
    before.workerScript !== after.workerScript || before.port !== after.port ||
    before.user !== after.user || !sameEnv(before.env, after.env);
}

function sameEnv(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length &&
    keys.every((key) => Object.hasOwn(b, key) && b[key] === a[key]);
}
