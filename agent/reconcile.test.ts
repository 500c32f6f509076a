import { describe, expect, test } from "bun:test";
import type { DesiredState, ObservedState } from "./protocol/desired-state.ts";
import type { HostFacts, ToolInventory } from "./protocol/host-report.ts";
import { type Applier, createReconciler } from "./reconcile.ts";

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
