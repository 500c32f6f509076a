import { afterAll, beforeAll, expect } from "bun:test";
import { TOOL_NAMES, type ToolInventory } from "../../agent/protocol/host-report.ts";
import { type AgentServer, startAgentServer } from "../testing/agent-server.ts";
import { TEST_PASSWORD } from "../testing/auth.ts";
import { withBrowser } from "../testing/browser.ts";
import { setupAcme } from "../testing/members.ts";
import {
  connectAgent,
  insertEnrolledHost,
  type ProtocolClient,
  sampleFacts,
} from "../testing/protocol-client.ts";
import { testWithTools } from "../testing/tools.ts";

// A superuser creates a site in the panel on an online host and watches its page turn from
// pending to running without reloading (the status block polls with htmx). The host is a
// simulated agent speaking the real protocol: it receives the site in its desired state and
// reports the worker serving, as a real agent does once its worker answers.
let server: AgentServer;
let agent: ProtocolClient | undefined;

const INVENTORY = Object.fromEntries(
  TOOL_NAMES.map((name) => [name, { present: name === "php", path: null, version: null }]),
) as ToolInventory;

beforeAll(async () => {
  server = await startAgentServer();
  const { acme } = await setupAcme(server.testApp);
  const identity = await insertEnrolledHost(server.testApp.deps.database.db, acme, "web-1");
  agent = await connectAgent(server.wsUrl, identity, {
    hello: { web: { httpPort: 8080, httpsPort: null, sitesDir: "/srv/caddis/sites" } },
  });
});
afterAll(async () => {
  agent?.close();
  await server.close();
});

testWithTools(
  ["chromium"],
  "a site created in the panel shows pending, then running once its host reports it serving",
  () =>
    withBrowser(async (browser) => {
      const origin = server.baseUrl;
      const client = agent!;
      const watched = await browser.newPage();
      const { page } = watched;

      await page.goto(`${origin}/login`);
      await page.getByLabel("Email").fill("root@example.com");
      await page.getByLabel("Password").fill(TEST_PASSWORD);
      await Promise.all([
        page.waitForURL(`${origin}/`),
        page.getByRole("button", { name: "Sign in", exact: true }).click(),
      ]);

      await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Sites" })
        .click();
      await page.getByText("No sites yet.").waitFor();
      await page.getByRole("link", { name: "New site" }).click();
      await page.getByLabel("Domain").fill("Shop.Example");
      await page.getByLabel("Aliases (optional)").fill("www.shop.example");
      await page.getByLabel("Host").selectOption({ label: "web-1 (online)" });
      await page.getByLabel("Runtime").selectOption("php-cli");
      const from = client.frames.length;
      await page.getByRole("button", { name: "Create site" }).click();
      await page.getByRole("heading", { name: "shop.example", exact: true }).waitFor();
      await page.getByText("Site created.").waitFor();
      const status = page.locator("#site-status");
      await status.getByText("Pending").waitFor();
      expect(await page.getByText("/srv/caddis/sites/").count()).toBe(1);

      // The host is told about the site, and reports its worker serving on the first port.
      const desired = await client.waitFrame(
        "desired_state",
        (frame) => frame.state.sites.some((site) => site.domains[0] === "shop.example"),
        { from },
      );
      const site = desired.state.sites.find((s) => s.domains[0] === "shop.example")!;
      expect(site.domains).toEqual(["shop.example", "www.shop.example"]);
      expect(page.url()).toBe(`${origin}/sites/${site.id}?notice=created`);
      client.send({
        type: "observed_state",
        observed: {
          revision: desired.state.revision,
          observedAt: new Date().toISOString(),
          facts: sampleFacts(),
          inventory: INVENTORY,
          sections: { sites: { ok: true, drift: [], error: null } },
          sites: [{ id: site.id, status: "running", port: site.port, lastError: null }],
        },
      });

      // No reload: htmx's poll swaps the status block in, and stops polling once settled.
      await status.getByText("Running").waitFor({ timeout: 15_000 });
      expect(await status.getAttribute("hx-trigger")).toBeNull();
      await page.reload();
      await page.getByText(`${site.port} serving now`).waitFor();

      await page.getByRole("link", { name: "Back to sites" }).click();
      const row = page.locator("tr", { hasText: "shop.example" });
      await row.getByText("Running").waitFor();
      expect(await row.innerText()).toContain("www.shop.example");

      expect(watched.cspViolations).toEqual([]);
      expect(watched.pageErrors).toEqual([]);
      expect(watched.problems()).toEqual([]);
    }),
  60_000,
);
