import { describe, expect, test } from "bun:test";
import type { DesiredState, ObservedState } from "./protocol/desired-state.ts";
import type { HostFacts, ToolInventory } from "./protocol/host-report.ts";
import type { ObservedSite } from "./protocol/sites.ts";
import { type Applier, createReconciler } from "./reconcile.ts";
import { waitFor } from "../scripts/testing/wait.ts";

const HOST = "host_1";
const facts: HostFacts = {
  hostname: "web-1",
  os: "Debian",
  kernel: "Linux 6",
  arch: "x64",
  cpuModel: "cpu",
  cpuCount: 2,
  memoryBytes: 1,
  disk: { path: "/", totalBytes: 2, freeBytes: 1 },
};

function setup(appliers: Record<string, Applier> = {}) {
  const observed: ObservedState[] = [];
  let inventoryReads = 0;
  const reconciler = createReconciler({
    hostId: HOST,
    appliers,
    facts: () => Promise.resolve(facts),
    // deno-lint-ignore require-await
    inventory: async () => {
      inventoryReads += 1;
      return {
        git: { present: true, path: "/usr/bin/git", version: `v${inventoryReads}` },
      } as ToolInventory;
    },
    send: (o) => observed.push(o),
    now: () => new Date("2030-01-01T00:00:00Z"),
  });
  return { reconciler, observed, inventoryReads: () => inventoryReads };
}

const state = (revision: number, hostId = HOST): DesiredState => ({ hostId, revision, sites: [] });

function gate() {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe("reconcile loop", () => {
  test("applies a state and reports the revision with facts, inventory and sections", async () => {
    const { reconciler, observed } = setup({
      sites: () => Promise.resolve({ ok: true, drift: [], error: null }),
    });
    reconciler.offer(state(3));
    await reconciler.idle();
    expect(observed).toEqual([{
      revision: 3,
      observedAt: "2030-01-01T00:00:00.000Z",
      facts,
      inventory: { git: { present: true, path: "/usr/bin/git", version: "v1" } } as ToolInventory,
      sections: { sites: { ok: true, drift: [], error: null } },
    }]);
  });

  test("an older revision is ignored; the same revision again is re-applied", async () => {
    const { reconciler, observed } = setup();
    reconciler.offer(state(5));
    await reconciler.idle();
    reconciler.offer(state(4));
    await reconciler.idle();
    reconciler.offer(state(5));
    await reconciler.idle();
    expect(observed.map((o) => o.revision)).toEqual([5, 5]);
    expect(reconciler.latestRevision()).toBe(5);
  });

  test("a burst of revisions while one applies only applies the newest next", async () => {
    const started: number[] = [];
    const first = gate();
    const { reconciler, observed } = setup({
      sites: async (s) => {
        started.push(s.revision);
        if (s.revision === 1) await first.promise;
        return { ok: true, drift: [], error: null };
      },
    });
    reconciler.offer(state(1));
    reconciler.offer(state(2));
    reconciler.offer(state(3));
    reconciler.offer(state(4));
    first.open();
    await reconciler.idle();
    expect(started).toEqual([1, 4]);
    expect(observed.map((o) => o.revision)).toEqual([1, 4]);
  });

  test("a failing applier is reported on its section, others still run", async () => {
    const { reconciler, observed } = setup({
      firewall: () => Promise.reject(new Error("nft: syntax error")),
      sites: () => Promise.resolve({ ok: true, drift: [], error: null }),
    });
    reconciler.offer(state(1));
    await reconciler.idle();
    expect(observed[0]?.sections).toEqual({
      firewall: { ok: false, drift: [], error: "nft: syntax error" },
      sites: { ok: true, drift: [], error: null },
    });
  });

  test("the inventory is cached; diagnose refreshes it and reports again", async () => {
    const { reconciler, observed, inventoryReads } = setup();
    reconciler.offer(state(1));
    await reconciler.idle();
    reconciler.offer(state(1));
    await reconciler.idle();
    expect(inventoryReads()).toBe(1);
    const result = await reconciler.diagnose();
    await reconciler.idle();
    expect(result.inventory.git?.version).toBe("v2");
    expect(observed.map((o) => o.inventory.git?.version)).toEqual(["v1", "v1", "v2"]);
  });

  test("a state for another host is ignored", async () => {
    const { reconciler, observed } = setup();
    reconciler.offer(state(1, "host_other"));
    await reconciler.idle();
    expect(observed).toEqual([]);
    expect(reconciler.latestRevision()).toBeNull();
  });
});

describe("site status reports between applies", () => {
  function withSites(intervalMs: number) {
    const observed: ObservedState[] = [];
    let sites: ObservedSite[] = [{ id: "site_a", status: "running", port: 20000, lastError: null }];
    let clock = Date.parse("2030-01-01T00:00:00Z");
    const reconciler = createReconciler({
      hostId: HOST,
      appliers: { sites: () => Promise.resolve({ ok: true, drift: [], error: null }) },
      facts: () => Promise.resolve(facts),
      inventory: () => Promise.resolve({} as ToolInventory),
      send: (o) => observed.push(o),
      sites: () => sites,
      siteReportIntervalMs: intervalMs,
      now: () => new Date(clock),
    });
    return {
      reconciler,
      observed,
      setSites: (next: ObservedSite[]) => (sites = next),
      advance: (ms: number) => (clock += ms),
    };
  }
  const failed: ObservedSite = { id: "site_a", status: "failed", port: null, lastError: "boom" };

  test("a change re-reports the applied revision with fresh statuses and the same sections", async () => {
    const { reconciler, observed, setSites } = withSites(0);
    reconciler.sitesChanged(); // nothing applied yet: nothing to report against
    reconciler.offer(state(7));
    await reconciler.idle();
    expect(observed).toHaveLength(1);
    expect(observed[0]!.sites).toEqual([
      { id: "site_a", status: "running", port: 20000, lastError: null },
    ]);
    setSites([failed]);
    reconciler.sitesChanged();
    await waitFor("the site report", () => observed.length === 2);
    expect(observed[1]).toMatchObject({
      revision: 7,
      sites: [failed],
      sections: observed[0]!.sections,
    });
    reconciler.stop();
  });

  test("each burst of changes within the interval becomes one report", async () => {
    const { reconciler, observed, setSites } = withSites(50);
    reconciler.offer(state(1));
    await reconciler.idle();
    setSites([failed]);
    for (let i = 0; i < 50; i++) reconciler.sitesChanged();
    await waitFor("the first burst's report", () => observed.length === 2);
    setSites([{ ...failed, lastError: "boom again" }]);
    for (let i = 0; i < 50; i++) reconciler.sitesChanged();
    // A second report for the first burst would have been sent before this one.
    await waitFor("the second burst's report", () => observed.length >= 3);
    expect(observed.map((o) => o.sites?.[0]?.lastError)).toEqual([null, "boom", "boom again"]);
    reconciler.stop();
  });
});
