// The desired-state loop: keep the newest state the API sent, apply it section by section, report
// what was observed. Applying is idempotent and coalescing: a burst of revisions applies only the
// latest one, and a state never runs twice at the same time.
import type { DiagnoseResult } from "./protocol/commands.ts";
import type { DesiredState, ObservedState, SectionReport } from "./protocol/desired-state.ts";
import type { HostFacts, ToolInventory } from "./protocol/host-report.ts";
import type { ObservedSite } from "./protocol/sites.ts";
import { type Log, silentLog } from "./log.ts";

/** Brings one section of the host (sites, firewall, backups…) in line with the desired state. */
export type Applier = (state: DesiredState) => Promise<SectionReport>;

/** Dependencies of the reconciler. */
export interface ReconcilerOptions {
  hostId: string;
  appliers: Record<string, Applier>;
  facts: () => Promise<HostFacts>;
  inventory: () => Promise<ToolInventory>;
  send: (observed: ObservedState) => void;
  /** Each desired site's status, for agents that run sites. */
  sites?: () => ObservedSite[];
  /** The least time between two reports sent because a site's status changed. */
  siteReportIntervalMs?: number;
  now: () => Date;
  log?: Log;
}

/** The loop's handle. */
export interface Reconciler {
  /** Takes a desired state from the API; older revisions than the newest seen are ignored. */
  offer(state: DesiredState): void;
  /** Re-reads facts and the tool inventory, reports them again, and returns them. */
  diagnose(): Promise<DiagnoseResult>;
  /** Resolves when no state is waiting or being applied. */
  idle(): Promise<void>;
  /** The revision of the newest state received, or null before the first. */
  latestRevision(): number | null;
  /**
   * A site's status changed outside an apply (a crash loop, a restart): reports the last applied
   * revision again with fresh site statuses, at most once per `siteReportIntervalMs`.
   */
  sitesChanged(): void;
  /** Cancels a site report still waiting for its turn, and any later ones. */
  stop(): void;
}

/** Builds the reconciler; nothing runs until the first `offer`. */
export function createReconciler(options: ReconcilerOptions): Reconciler {
  const log = options.log ?? silentLog;
  let latest: DesiredState | null = null;
  let waiting: DesiredState | null = null;
  let loop: Promise<void> | null = null;
  let inventory: ToolInventory | null = null;
  let lastReport: ObservedState | null = null;
  let lastReportAt = 0;
  let siteReport: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;

  const currentInventory = async () => (inventory ??= await options.inventory());
  const report = (observed: ObservedState) => {
    lastReport = observed;
    lastReportAt = options.now().getTime();
    options.send(observed);
  };

  const reportSites = async () => {
    siteReport = undefined;
    const previous = lastReport;
    const sites = options.sites?.();
    if (!previous || JSON.stringify(sites) === JSON.stringify(previous.sites)) return;
    const [facts, tools] = await Promise.all([options.facts(), currentInventory()]);
    // An apply that reported meanwhile already carried these statuses.
    if (lastReport !== previous) return;
    const observedAt = options.now().toISOString();
    report({ ...previous, observedAt, facts, inventory: tools, sites });
  };

  const apply = async (state: DesiredState): Promise<void> => {
    const sections: Record<string, SectionReport> = {};
    for (const [name, applier] of Object.entries(options.appliers)) {
      try {
        sections[name] = await applier(state);
      } catch (err) {
        const error = (err instanceof Error ? err.message : String(err)).slice(0, 4000);
        log.error("applying a section failed", { section: name, revision: state.revision, error });
        sections[name] = { ok: false, drift: [], error };
      }
    }
    const [facts, tools] = await Promise.all([options.facts(), currentInventory()]);
    const sites = options.sites?.();
    report({
      revision: state.revision,
      observedAt: options.now().toISOString(),
      facts,
      inventory: tools,
      sections,
      ...(sites ? { sites } : {}),
    });
  };

  // One loop at a time; each pass takes whatever is newest at that moment.
  const drain = async () => {
    while (waiting) {
      const state = waiting;
      waiting = null;
      try {
        await apply(state);
      } catch (err) {
        log.error("reconciling failed", { revision: state.revision, err });
      }
    }
    loop = null;
  };
  const schedule = () => {
    loop ??= drain();
  };

  return {
    offer(state) {
      if (state.hostId !== options.hostId) {
        log.warn("ignored a desired state for another host", { hostId: state.hostId });
        return;
      }
      if (latest && state.revision < latest.revision) {
        log.info("ignored an older desired state", {
          revision: state.revision,
          latest: latest.revision,
        });
        return;
      }
      // The same revision again (on reconnect) is applied again: appliers are idempotent, and the
      // API may not have received the previous report.
      latest = state;
      waiting = state;
      schedule();
    },
    async diagnose() {
      const [facts, tools] = await Promise.all([options.facts(), options.inventory()]);
      inventory = tools;
      if (latest) {
        waiting = latest;
        schedule();
      }
      return { facts, inventory: tools };
    },
    async idle() {
      while (loop) await loop;
    },
    latestRevision: () => latest?.revision ?? null,
    sitesChanged() {
      if (stopped || siteReport !== undefined || !lastReport) return;
      const interval = options.siteReportIntervalMs ?? 1_000;
      const wait = Math.max(0, lastReportAt + interval - options.now().getTime());
      siteReport = setTimeout(() => {
        reportSites().catch((err) => log.warn("reporting site statuses failed", { err }));
      }, wait);
    },
    stop() {
      stopped = true;
      clearTimeout(siteReport);
      siteReport = undefined;
    },
  };
}
