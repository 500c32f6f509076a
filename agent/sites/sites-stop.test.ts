// Stopping the agent while its sites are still starting (the tool inventory takes a while on a
// busy host) must not leave a Caddy behind: the agent's Caddy and workers run detached, so one
// started after the stop would outlive the agent and hold its ports.
import { expect } from "bun:test";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { isCaddyUp } from "../caddy/caddy-admin.ts";
import { collectInventory } from "../inventory.ts";
import { silentLog } from "../log.ts";
import { tempDir } from "../test-fixtures.ts";
import { testWithTools } from "../../scripts/testing/tools.ts";
import { caddyPlaces } from "./caddy-process.ts";
import { sitePlaces } from "./site-paths.ts";
import { createSites, readCaddyTemplate } from "./sites-applier.ts";
import { phpSite, pidWithArgument } from "./test-sites.ts";
import { freePort } from "../../scripts/testing/ports.ts";

testWithTools(
  ["caddy", "php"],
  "a stop during a slow start starts no Caddy and no worker",
  async () => {
    const { dir, remove } = await tempDir("sites-stop");
    const stateDir = join(dir, "state");
    await mkdir(stateDir, { mode: 0o700 });
    const inventory = await collectInventory();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => release = resolve);
    const sites = createSites({
      mode: "sandbox",
      stateDir,
      places: sitePlaces("sandbox", stateDir),
      httpPort: freePort(),
      httpsPort: null,
      template: await readCaddyTemplate(),
      inventory: async () => {
        await gate;
        return inventory;
      },
      onChange: () => {},
      log: silentLog,
      now: () => new Date(),
    });
    try {
      const starting = sites.start();
      const site = phpSite("site_late", "late.example.com");
      const applying = sites.apply({ hostId: "host_test", revision: 1, sites: [site] });
      await sites.stop();
      release();
      await starting;
      expect(await applying).toMatchObject({ ok: false });
      expect(await isCaddyUp(caddyPlaces(stateDir).adminSocket)).toBe(false);
      await expect(pidWithArgument(`127.0.0.1:${site.port}`)).rejects.toThrow("no process");
      expect(await sites.apply({ hostId: "host_test", revision: 2, sites: [site] })).toEqual({
        ok: false,
        drift: [],
        error: "the agent is stopping",
      });
    } finally {
      await sites.stop();
      await remove();
    }
  },
);
