// Sites under churn: bursts of desired states, restarts under load, a Caddy that dies.
import { describe, expect, setDefaultTimeout } from "bun:test";
import { join } from "node:path";
import { createReconciler } from "../reconcile.ts";
import { testWithTools } from "../../scripts/testing/tools.ts";
import { waitFor } from "../../scripts/testing/wait.ts";
import {
  phpSite,
  pidWithArgument,
  siteCommand,
  statusOf,
  testSitesPerTest,
  writeIndex,
} from "./test-sites.ts";

setDefaultTimeout(120_000);

const { setUp } = testSitesPerTest();

const command = siteCommand;

describe("sites under churn", () => {
  testWithTools(
    ["caddy", "php"],
    "100 rapid desired states cause only a few Caddy loads",
    async () => {
      const host = await setUp();
      const site = phpSite("site_busy", "busy.example.com", { env: { SITE_NAME: "busy" } });
      const reconciler = createReconciler({
        hostId: "host_test",
        appliers: { sites: host.sites.apply },
        facts: () => Promise.reject(new Error("not needed")),
        inventory: () => Promise.reject(new Error("not needed")),
        send: () => {},
        now: () => new Date(),
      });
      for (let i = 0; i < 100; i++) {
        reconciler.offer(
          host.state([{ ...site, domains: ["busy.example.com", `a${i}.example.com`] }]),
        );
      }
      await reconciler.idle();
      await writeIndex(host, site);
      expect(host.loads()).toBeLessThanOrEqual(3);
      expect((await host.get("a99.example.com")).body).toBe("hello from busy ");
      expect((await host.get("a50.example.com")).body).toBe("");
    },
  );

  testWithTools(
    ["caddy", "php"],
    "site.restart during a stream of requests through Caddy drops none of them",
    async () => {
      const host = await setUp();
      const site = phpSite("site_live", "live.example.com", { env: { SITE_NAME: "live" } });
      await host.sites.apply(host.state([site]));
      await writeIndex(host, site);
      let done = 0;
      const failures: string[] = [];
      const requests = (async () => {
        for (; done < 200; done++) {
          const answer = await host.get("live.example.com").catch((err) => ({
            status: 0,
            body: String(err),
          }));
          if (answer.status !== 200 || answer.body !== "hello from live ") {
            failures.push(`${answer.status} ${answer.body.slice(0, 200)}`);
          }
        }
      })();
      const ports: unknown[] = [];
      for (let i = 0; i < 10; i++) {
        await waitFor("more requests", () => done >= i * 18);
        ports.push((await command(host, "site.restart", "site_live")).port);
      }
      await requests;
      expect(failures).toEqual([]);
      expect(ports).toEqual(Array.from({ length: 10 }, (_, i) => site.port + ((i + 1) % 2)));
      expect(statusOf(host, "site_live")).toMatchObject({ status: "running", port: site.port });
    },
  );

  testWithTools(
    ["caddy", "php"],
    "a Caddy that dies is started again and serves the sites",
    async () => {
      const host = await setUp();
      const site = phpSite("site_phoenix", "phoenix.example.com", {
        env: { SITE_NAME: "phoenix" },
      });
      await host.sites.apply(host.state([site]));
      await writeIndex(host, site);
      expect((await host.get("phoenix.example.com")).body).toBe("hello from phoenix ");
      const caddyPid = await pidWithArgument(join(host.stateDir, "caddy", "Caddyfile.empty"));
      process.kill(caddyPid, "SIGKILL");
      await waitFor("Caddy to serve the site again", async () => {
        const answer = await host.get("phoenix.example.com").catch(() => null);
        return answer?.body === "hello from phoenix ";
      });
      expect(await pidWithArgument(join(host.stateDir, "caddy", "Caddyfile.last-good")))
        .not.toBe(caddyPid);
    },
  );
});
