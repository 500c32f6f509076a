import { afterAll, expect, setDefaultTimeout } from "bun:test";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { SiteView } from "../../api/services/site-view.ts";
import { expectJson } from "../replicas/api-process.ts";
import { type EmbeddedPanel, startEmbeddedPanel } from "../sites/embedded-panel.ts";
import { TEST_PASSWORD } from "../testing/auth.ts";
import { withBrowser } from "../testing/browser.ts";
import { testWithTools } from "../testing/tools.ts";
import { waitFor } from "../testing/wait.ts";

// What the sites feature promises, seen as a user sees it: `npm start`'s process (PGlite and the
// embedded agent, running the real Caddy and php-cli), a site added through the web form, its
// page turning from pending to running by itself, and Caddy serving its PHP by its Host header.
setDefaultTimeout(180_000);

let panel: EmbeddedPanel | undefined;
afterAll(async () => {
  await panel?.stop();
});

testWithTools(
  ["chromium", "caddy", "php"],
  "a site added in the panel runs and is served by Caddy from its own worker",
  async () => {
    panel = await startEmbeddedPanel();
    const origin = panel.api.url;
    await withBrowser(async (browser) => {
      const { page } = await browser.newPage();
      await page.goto(`${origin}/login`);
      await page.getByLabel("Email").fill("root@example.com");
      await page.getByLabel("Password").fill(TEST_PASSWORD);
      await Promise.all([
        page.waitForURL(`${origin}/`),
        page.getByRole("button", { name: "Sign in", exact: true }).click(),
      ]);
      await page.goto(`${origin}/sites/new`);
      await page.getByLabel("Domain").fill("blog.served.example");
      await page.getByLabel("Host").selectOption({ label: "local (online)" });
      await page.getByLabel("Runtime").selectOption("php-cli");
      await page.getByRole("button", { name: "Create site" }).click();
      await page.getByRole("heading", { name: "blog.served.example", exact: true }).waitFor();
      // The status block polls until the agent reports the worker serving: no reload.
      await page.locator("#site-status").getByText("Running").waitFor({ timeout: 60_000 });
    });

    const { sites } = await expectJson<{ sites: SiteView[] }>(
      await panel.call("GET", "/sites"),
      200,
    );
    const site = sites.find((s) => s.domain === "blog.served.example")!;
    expect(site).toMatchObject({ status: "running", httpPort: panel.httpPort });
    await writeFile(join(site.docrootPath!, "index.php"), '<?php echo "served by " . PHP_SAPI;');
    await waitFor("the PHP page through Caddy", async () => {
      return (await panel!.throughCaddy("blog.served.example")).body.includes(
        "served by cli-server",
      );
    }, 30_000);
  },
);
