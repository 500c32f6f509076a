// The host's site workers with real php-cli workers.
import { describe, expect, setDefaultTimeout } from "bun:test";
import { cleanupsAfterEach } from "../../scripts/testing/cleanups.ts";
import { testWithTools } from "../../scripts/testing/tools.ts";
import { waitFor } from "../../scripts/testing/wait.ts";
import type { DesiredSite } from "../protocol/sites.ts";
import { freePort } from "../../scripts/testing/ports.ts";
import { createSiteWorkers, type SiteWorkers } from "./site-workers.ts";
import type { WorkerStatus } from "./supervisor-policy.ts";
import { createPhpSite, type PhpSite } from "./test-php-site.ts";

setDefaultTimeout(60_000);

const onCleanup = cleanupsAfterEach();

async function phpSite(id: string, overrides: Partial<DesiredSite> = {}): Promise<PhpSite> {
  const php = await createPhpSite({ id, port: freePort(), overrides });
  onCleanup(php.remove);
  return php;
}

function manager(sites: PhpSite[]) {
  const switched: string[] = [];
  const statuses: [string, WorkerStatus][] = [];
  const byId = new Map(sites.map((php) => [php.site.id, php]));
  const workers = createSiteWorkers({
    launch: (site, port) => byId.get(site.id)!.launch(site, port),
    switchUpstream(siteId, port) {
      switched.push(`${siteId}:${port}`);
      return Promise.resolve();
    },
    sparePort: () => Promise.resolve(freePort()),
    onStatus: (siteId, status) => statuses.push([siteId, status]),
    policy: { backoff: { baseMs: 20, capMs: 200 }, stopGraceMs: 2_000 },
  });
  onCleanup(() => workers.stopAll());
  return { workers, switched, statuses };
}

async function body(workers: SiteWorkers, siteId: string): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${workers.status(siteId)!.port}/`);
  return await response.text();
}

describe("createSiteWorkers", () => {
  testWithTools(
    ["php"],
    "a site in a crash loop fails alone; the other keeps serving",
    async () => {
      const good = await phpSite("site_good");
      const bad = await phpSite("site_bad", { docroot: "missing" });
      const { workers } = manager([good, bad]);
      const reports = await workers.apply([good.site, bad.site]);
      expect(reports.map((r) => [r.siteId, r.status?.state, r.error])).toEqual([
        ["site_good", "running", null],
        ["site_bad", "restarting", null],
      ]);
      const pid = workers.status("site_good")!.pid;
      await waitFor(
        "site_bad to fail",
        () => workers.status("site_bad")?.state === "failed",
        10_000,
        10,
      );
      expect(workers.status("site_bad")!.lastError).toContain("missing does not exist");
      expect(workers.status("site_good")).toMatchObject({ state: "running", pid });
      expect(await body(workers, "site_good")).toStartWith(`ok ${pid}`);
    },
  );

  testWithTools(
    ["php"],
    "a changed env restarts the worker on a spare port with the new value",
    async () => {
      const php = await phpSite("site_env", { env: { APP_SECRET: "one" } });
      const { workers, switched } = manager([php]);
      await workers.apply([php.site]);
      expect(await body(workers, "site_env")).toEndWith(" one");
      const unchanged = await workers.apply([{ ...php.site, domains: ["other.example.com"] }]);
      expect(unchanged[0]!.status!.port).toBe(php.site.port);
      expect(switched).toEqual([]);

      const [report] = await workers.apply([{ ...php.site, env: { APP_SECRET: "two" } }]);
      expect(report!.error).toBeNull();
      const port = report!.status!.port;
      expect(port).not.toBe(php.site.port);
      expect(switched).toEqual([`site_env:${port}`]);
      expect(await body(workers, "site_env")).toEndWith(" two");
    },
  );

  testWithTools(["php"], "a new desired port moves the worker there", async () => {
    const php = await phpSite("site_port");
    const { workers, switched } = manager([php]);
    await workers.apply([php.site]);
    const next = freePort();
    const [report] = await workers.apply([{ ...php.site, port: next }]);
    expect(report!.status).toMatchObject({ state: "running", port: next });
    expect(switched).toEqual([`site_port:${next}`]);
  });

  testWithTools(
    ["php"],
    "a restart whose new worker fails is reported and retried next apply",
    async () => {
      const php = await phpSite("site_retry");
      const { workers } = manager([php]);
      await workers.apply([php.site]);
      const broken = { ...php.site, docroot: "missing" };
      const [report] = await workers.apply([broken]);
      expect(report!.error).toStartWith("Restart failed: the new worker exited with code 1");
      expect(report!.status).toMatchObject({ state: "running", port: php.site.port });
      const [again] = await workers.apply([broken]);
      expect(again!.error).toStartWith("Restart failed");
    },
  );

  testWithTools(
    ["php"],
    "disabled and removed sites are stopped; others are untouched",
    async () => {
      const one = await phpSite("site_one");
      const two = await phpSite("site_two");
      const three = await phpSite("site_three");
      const { workers } = manager([one, two, three]);
      await workers.apply([one.site, two.site, three.site]);
      const pid = workers.status("site_three")!.pid;
      const reports = await workers.apply([{ ...one.site, enabled: false }, three.site]);
      expect(reports.map((r) => [r.siteId, r.status?.state ?? null])).toEqual([
        ["site_one", null],
        ["site_three", "running"],
        ["site_two", null],
      ]);
      expect(workers.status("site_three")!.pid).toBe(pid);
      const refused = await fetch(`http://127.0.0.1:${one.site.port}/`).catch(() => null);
      expect(refused).toBeNull();
    },
  );

  testWithTools(
    ["php"],
    "restart moves one site's worker to the port sparePort gives; remove stops it",
    async () => {
      const php = await phpSite("site_restart");
      const spare = freePort();
      const asked: string[] = [];
      const switched: string[] = [];
      const spared = createSiteWorkers({
        launch: (site, port) => php.launch(site, port),
        switchUpstream: (siteId, port) => Promise.resolve(void switched.push(`${siteId}:${port}`)),
        sparePort(site, serving) {
          asked.push(`${site.id}:${serving}`);
          return Promise.resolve(spare);
        },
        onStatus: () => {},
        policy: { stopGraceMs: 2_000 },
      });
      onCleanup(() => spared.stopAll());
      await spared.apply([php.site]);
      expect(await spared.restart("site_restart")).toBe(spare);
      expect(asked).toEqual([`site_restart:${php.site.port}`]);
      expect(switched).toEqual([`site_restart:${spare}`]);
      expect(await body(spared, "site_restart")).toStartWith("ok ");
      await expect(spared.restart("site_other")).rejects.toThrow(
        "Cannot restart site site_other: it runs no worker on this host",
      );
      await spared.remove("site_restart");
      expect(spared.status("site_restart")).toBeNull();
      expect(await fetch(`http://127.0.0.1:${spare}/`).catch(() => null)).toBeNull();
    },
  );
});
