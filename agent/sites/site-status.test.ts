import { describe, expect, test } from "bun:test";
import type { DesiredSite } from "../protocol/sites.ts";
import type { WorkerStatus } from "../workers/supervisor-policy.ts";
import { observeSite, siteDrift } from "./site-status.ts";

const site: DesiredSite = {
  id: "site_a",
  domains: ["a.example.com"],
  runtime: "php-cli",
  docroot: "",
  workerScript: null,
  port: 20_000,
  user: "site-a",
  env: {},
  enabled: true,
};
const worker = (overrides: Partial<WorkerStatus>): WorkerStatus => ({
  state: "running",
  port: 20_001,
  pid: 42,
  lastError: null,
  recentCrashes: 0,
  retryInMs: null,
  ...overrides,
});

describe("observeSite", () => {
  test("a running worker: running on its live port of the pair; an old crash is not shown", () => {
    expect(observeSite(site, worker({ lastError: "exited with code 1" }), undefined, null))
      .toEqual({ id: "site_a", status: "running", port: 20_001, lastError: null });
  });

  test("a worker between crashes is pending, a crash-looped one failed, both with the reason", () => {
    expect(
      observeSite(
        site,
        worker({ state: "restarting", pid: null, lastError: "boom" }),
        undefined,
        null,
      ),
    )
      .toEqual({ id: "site_a", status: "pending", port: null, lastError: "boom" });
    expect(
      observeSite(site, worker({ state: "failed", pid: null, lastError: "boom" }), undefined, null),
    )
      .toEqual({ id: "site_a", status: "failed", port: null, lastError: "boom" });
  });

  test("a disabled site is stopped whatever else is going on", () => {
    const problem = { status: "failed" as const, error: "runtime missing" };
    expect(observeSite({ ...site, enabled: false }, null, problem, "Caddy down")).toEqual({
      id: "site_a",
      status: "stopped",
      port: null,
      lastError: null,
    });
  });

  test("a problem that kept it from starting decides; a Caddy error shows on a running site", () => {
    const problem = { status: "failed" as const, error: "runtime frankenphp is not installed" };
    expect(observeSite(site, null, problem, null)).toEqual({
      id: "site_a",
      status: "failed",
      port: null,
      lastError: "runtime frankenphp is not installed",
    });
    expect(observeSite(site, worker({}), undefined, "Caddy config load failed: x")).toEqual({
      id: "site_a",
      status: "running",
      port: 20_001,
      lastError: "Caddy config load failed: x",
    });
    // A failed restart keeps the old worker's status and says why.
    const restart = { status: null, error: "Restart failed: the new worker exited" };
    expect(observeSite(site, worker({}), restart, null)).toMatchObject({
      status: "running",
      lastError: "Restart failed: the new worker exited",
    });
  });

  test("a long error is cut to what the report carries", () => {
    const long = "x".repeat(20_000);
    expect(
      observeSite(site, worker({ state: "failed", lastError: long }), undefined, null).lastError,
    )
      .toHaveLength(8000);
  });
});

describe("siteDrift", () => {
  test("lists each enabled site that is not running, with the first line of why", () => {
    const desired = new Map([
      ["site_a", site],
      ["site_b", { ...site, id: "site_b" }],
      ["site_c", { ...site, id: "site_c", enabled: false }],
    ]);
    expect(siteDrift([
      { id: "site_a", status: "running", port: 1, lastError: null },
      { id: "site_b", status: "failed", port: null, lastError: "exited\nlast stderr: x" },
      { id: "site_c", status: "stopped", port: null, lastError: null },
    ], desired)).toEqual(["site site_b is failed: exited"]);
  });
});
