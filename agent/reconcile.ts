// The desired-state loop: keep the newest state the API sent, apply it section by section, report
// what was observed. Applying is idempotent and coalescing: a burst of revisions applies only the
// latest one, and a state never runs twice at the same time.
import type { DiagnoseResult } from "./protocol/commands.ts";
import type { DesiredState, ObservedState, SectionReport } from "./protocol/desired-state.ts";
import type { HostFacts, ToolInventory } from "./protocol/host-report.ts";
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
}

/** Builds the reconciler; nothing runs until the first `offer`. */
export function createReconciler(options: ReconcilerOptions): Reconciler {
  const log = options.log ?? silentLog;
  let latest: DesiredState | null = null;
  let waiting: DesiredState | null = null;
  let loop: Promise<void> | null = null;
  let inventory: ToolInventory | null = null;

  const currentInventory = async () => (inventory ??= await options.inventory());

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
    options.send({
      revision: state.revision,
      observedAt: options.now().toISOString(),
      facts,
      inventory: tools,
      sections,
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
  };
}
