// The sites section end to end: real Caddy, real php-cli workers, sandbox mode in temp dirs.
import { describe, expect, setDefaultTimeout } from "bun:test";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { siteLayout } from "./site-paths.ts";
import { testWithTools } from "../../scripts/testing/tools.ts";
import { waitFor } from "../../scripts/testing/wait.ts";
import {
  INDEX,
  phpSite,
  siteCommand,
  statusOf,
  testSitesPerTest,
  writeIndex,
} from "./test-sites.ts";

setDefaultTimeout(120_000);

const { setUp, onCleanup } = testSitesPerTest();

const command = siteCommand;

describe("sites served through Caddy", () => {
  testWithTools(
    ["caddy", "php"],
    "serves PHP sites with security headers; disabling, env changes and removal converge",
    async () => {
      const host = await setUp();
      const blog = phpSite("site_blog", "blog.example.com", { env: { SITE_NAME: "blog" } });
      const shop = phpSite("site_shop", "shop.example.com", { env: { SITE_NAME: "shop" } });
      const first = await host.sites.apply(host.state([blog, shop]));
      expect(first).toEqual({ ok: true, drift: [], error: null });
      await writeIndex(host, blog);
      await writeIndex(host, shop);

      const served = await host.get("blog.example.com");
      expect(served.status).toBe(200);
      expect(served.body).toBe("hello from blog ");
      expect(served.headers.get("x-content-type-options")).toBe("nosniff");
      expect(served.headers.get("strict-transport-security")).toBe("max-age=31536000");
      expect(served.headers.has("x-powered-by")).toBe(false);
      expect((await host.get("shop.example.com")).body).toBe("hello from shop ");
      expect(host.sites.observed()).toEqual([
        { id: "site_blog", status: "running", port: blog.port, lastError: null },
        { id: "site_shop", status: "running", port: shop.port, lastError: null },
      ]);
      const root = siteLayout(host.places.sitesDir, blog).root;
      expect((await stat(root)).mode & 0o777).toBe(0o750);
      expect((await stat(join(root, "tmp"))).mode & 0o777).toBe(0o700);
      expect((await readdir(root)).sort()).toEqual(["current", "logs", "tmp"]);

      // Disabled: not served, stopped, files kept.
      await host.sites.apply(host.state([{ ...blog, enabled: false }, shop]));
      // Caddy answers a host it serves no site for with an empty 200.
      expect((await host.get("blog.example.com")).body).toBe("");
      expect(statusOf(host, "site_blog")).toEqual({
        id: "site_blog",
        status: "stopped",
        port: null,
        lastError: null,
      });
      expect(await readFile(join(root, "current", "public", "index.php"), "utf8")).toBe(INDEX);

      // A new env value reaches the worker (restarted on the other port of its pair).
      const greeted = { ...shop, env: { SITE_NAME: "shop", GREETING: "s3cret 'x' $(id)" } };
      await host.sites.apply(host.state([{ ...blog, enabled: false }, greeted]));
      expect((await host.get("shop.example.com")).body).toBe("hello from shop s3cret 'x' $(id)");
      expect(statusOf(host, "site_shop")?.port).toBe(shop.port + 1);

      // Removed: the worker and route go, the files move to the trash.
      await host.sites.apply(host.state([greeted]));
      const removed = await command(host, "site.remove", "site_blog", { purge: false });
      expect(removed.trashedTo).toStartWith(join(host.places.trashDir, "site_blog-"));
      expect(await readFile(join(`${removed.trashedTo}`, "current/public/index.php"), "utf8"))
        .toBe(INDEX);
      expect(await command(host, "site.remove", "site_blog", { purge: false })).toEqual({
        absent: true,
      });
      expect((await host.get("blog.example.com")).body).toBe("");
      expect((await host.get("shop.example.com")).body).toStartWith("hello from shop");
    },
  );

  testWithTools(
    ["caddy", "php"],
    "a site whose worker cannot start fails with its error, and one on a missing runtime fails " +
      "saying so; the other site is still served",
    async () => {
      const host = await setUp();
      const good = phpSite("site_good", "good.example.com", { env: { SITE_NAME: "good" } });
      const bad = phpSite("site_bad", "bad.example.com");
      const franken = phpSite("site_franken", "franken.example.com", { runtime: "frankenphp" });
      // Something else holds the bad site's port: it accepts and hangs up, as no worker would.
      const squatter = Bun.listen({
        hostname: "127.0.0.1",
        port: bad.port,
        socket: { open: (socket) => void socket.end(), data() {} },
      });
      onCleanup(() => Promise.resolve(squatter.stop(true)));

      const report = await host.sites.apply(host.state([good, bad, franken]));
      await writeIndex(host, good);
      expect(report.ok).toBe(true);
      expect(report.drift).toContain(
        "site site_franken is failed: runtime frankenphp is not installed on this host; " +
          "choose php-cli or install it",
      );
      await waitFor("the bad site to fail", () => statusOf(host, "site_bad")?.status === "failed");
      expect(statusOf(host, "site_bad")?.lastError).toContain(
        `Failed to listen on 127.0.0.1:${bad.port} (reason: Address already in use)`,
      );
      expect(host.changes()).toBeGreaterThan(0);
      expect(statusOf(host, "site_franken")).toMatchObject({ status: "failed", port: null });
      expect(await host.get("good.example.com")).toMatchObject({
        status: 200,
        body: "hello from good ",
      });
    },
  );

  testWithTools(
    ["caddy", "php"],
    "site commands refuse unknown and stopped sites; purge deletes",
    async () => {
      const host = await setUp();
      const site = phpSite("site_off", "off.example.com", { enabled: false });
      const on = phpSite("site_on", "on.example.com");
      await host.sites.apply(host.state([site, on]));
      await expect(command(host, "site.restart", "site_nope")).rejects.toThrow(
        "Cannot restart site site_nope: this host does not run it",
      );
      await expect(command(host, "site.restart", "site_off")).rejects.toThrow(
        "Cannot restart site site_off: it is stopped",
      );
      const root = siteLayout(host.places.sitesDir, on).root;
      expect(await command(host, "site.remove", "site_on", { purge: true })).toEqual({
        purged: true,
      });
      expect(await stat(root).catch(() => null)).toBeNull();
      expect(await readdir(host.places.trashDir)).toEqual([]);
      expect(await command(host, "site.remove", "site_on", { purge: true })).toEqual({
        absent: true,
      });
    },
  );

  testWithTools(
    ["php"],
    "without Caddy on the host the section says so and starts no worker",
    async () => {
      const host = await setUp((inventory) => ({
        ...inventory,
        caddy: { present: false, path: null, version: null },
      }));
      const site = phpSite("site_lonely", "lonely.example.com");
      const why = "caddy is not installed on this host; its sites cannot be served until it is";
      expect(await host.sites.apply(host.state([site]))).toEqual({
        ok: false,
        drift: [`site site_lonely is pending: ${why}`],
        error: why,
      });
      expect(host.sites.observed()).toEqual([
        { id: "site_lonely", status: "pending", port: null, lastError: why },
      ]);
      expect(await fetch(`http://127.0.0.1:${site.port}/`).catch(() => null)).toBeNull();
      await expect(command(host, "site.restart", "site_lonely")).rejects.toThrow(
        "Cannot restart site site_lonely: it runs no worker on this host",
      );
    },
  );

  testWithTools(
    ["caddy", "php"],
    "on the API's own host, the panel's domain is proxied to the API beside the sites",
    async () => {
      const host = await setUp();
      const api = Bun.serve({
        hostname: "127.0.0.1",
        port: 0,
        fetch: () => new Response("the caddis panel"),
      });
      onCleanup(() => api.stop(true));
      const site = phpSite("site_next", "next.example.com", { env: { SITE_NAME: "next" } });
      const panel = { domain: "panel.example.com", apiPort: api.port! };
      expect(await host.sites.apply({ ...host.state([site]), panel })).toMatchObject({ ok: true });
      await writeIndex(host, site);
      const served = await host.get("panel.example.com");
      expect(served.body).toBe("the caddis panel");
      expect(served.headers.get("x-frame-options")).toBe("SAMEORIGIN");
      expect((await host.get("next.example.com")).body).toBe("hello from next ");
      // Another host's state has no panel: the block goes.
      await host.sites.apply(host.state([site]));
      expect((await host.get("panel.example.com")).body).toBe("");
    },
  );
});
