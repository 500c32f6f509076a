import { afterAll, beforeAll, expect, setDefaultTimeout } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HostView } from "../../api/services/host-view.ts";
import type { SiteView } from "../../api/services/site-view.ts";
import {
  callReplica,
  expectJson,
  setupThroughLink,
  sharedSecrets,
} from "../replicas/api-process.ts";
import { TEST_PASSWORD } from "../testing/auth.ts";
import { withBrowser } from "../testing/browser.ts";
import { type ServerProcess, startServerProcess } from "../testing/process.ts";
import { testWithTools } from "../testing/tools.ts";
import { waitFor } from "../testing/wait.ts";

// What the sites feature promises, seen as a user sees it: `npm start`'s process (PGlite and the
// embedded agent, running the real Caddy and php-cli), a site added through the web form, its
// page turning from pending to running by itself, and Caddy serving its PHP by its Host header.
setDefaultTimeout(180_000);

const ENTRY = join(import.meta.dir, "../../api/main-bun.ts");

let dataDir: string;
let api: ServerProcess | undefined;
let token: string;
let httpPort: number;

function freePort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "caddis-served-"));
});
afterAll(async () => {
  await api?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

testWithTools(
  ["chromium", "caddy", "php"],
  "a site added in the panel runs and is served by Caddy from its own worker",
  async () => {
    httpPort = freePort();
    api = await startServerProcess([process.execPath, ENTRY], {
      ...sharedSecrets(),
      CADDIS_DATA_DIR: dataDir,
      CADDIS_PORT: "0",
      CADDIS_EMBEDDED_AGENT: "on",
      CADDIS_AGENT_HTTP_PORT: String(httpPort),
      CADDIS_RATE_LIMITS: "api=off;agent=off;auth=off;pages=off",
    }, 60_000);
    token = await setupThroughLink(api);
    await waitFor("the local host online", async () => {
      const res = await callReplica(api!, token, "GET", "/hosts");
      const { hosts } = await expectJson<{ hosts: HostView[] }>(res, 200);
      return hosts.some((host) => host.name === "local" && host.status === "online");
    }, 60_000);

    await withBrowser(async (browser) => {
      const origin = api!.url;
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
      await callReplica(api, token, "GET", "/sites"),
      200,
    );
    const site = sites.find((s) => s.domain === "blog.served.example")!;
    expect(site).toMatchObject({ status: "running", httpPort });
    await writeFile(join(site.docrootPath!, "index.php"), '<?php echo "served by " . PHP_SAPI;');
    await waitFor("the PHP page through Caddy", async () => {
      const res = await fetch(`http://127.0.0.1:${httpPort}/`, {
        headers: { host: "blog.served.example" },
      }).catch(() => undefined);
      return (await res?.text())?.includes("served by cli-server") ?? false;
    }, 30_000);
  },
);
