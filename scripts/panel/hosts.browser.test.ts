import { afterAll, beforeAll, expect } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AgentHandle, startAgent } from "../../agent/agent.ts";
import { enrollAgent } from "../../agent/enroll.ts";
import { createLog } from "../../agent/log.ts";
import { type AgentServer, startAgentServer } from "../testing/agent-server.ts";
import { TEST_PASSWORD } from "../testing/auth.ts";
import { withBrowser } from "../testing/browser.ts";
import { setupAcme } from "../testing/members.ts";
import { testWithTools } from "../testing/tools.ts";

// A superuser adds a host in the panel, enrols a real agent with the command shown once, sees the
// host come online, runs Diagnose, and revokes it: the whole hosts workflow in Chromium.
let server: AgentServer;
let stateDir: string;
let agent: AgentHandle | undefined;

beforeAll(async () => {
  server = await startAgentServer();
  await setupAcme(server.testApp);
  stateDir = await mkdtemp(join(tmpdir(), "caddis-panel-agent-"));
});
afterAll(async () => {
  await agent?.stop();
  await server.close();
  await rm(stateDir, { recursive: true, force: true });
});

testWithTools(
  ["chromium"],
  "a host added in the panel is enrolled with the shown command, diagnosed and revoked",
  () =>
    withBrowser(async (browser) => {
      const origin = server.baseUrl;
      const watched = await browser.newPage();
      const { page } = watched;
      await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin });

      await page.goto(`${origin}/login`);
      await page.getByLabel("Email").fill("root@example.com");
      await page.getByLabel("Password").fill(TEST_PASSWORD);
      await Promise.all([
        page.waitForURL(`${origin}/`),
        page.getByRole("button", { name: "Sign in", exact: true }).click(),
      ]);

      await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Hosts" })
        .click();
      await page.getByRole("link", { name: "Add a host" }).click();
      await page.getByLabel("Name").fill("web-1");
      await page.getByRole("button", { name: "Add host" }).click();
      await page.getByRole("heading", { name: "Enrol web-1" }).waitFor();

      const command = await page.getByLabel("Enrolment command").inputValue();
      expect(command).toMatch(
        /^CADDIS_ENROL_TOKEN=cde_[a-z2-7]{52} bun agent\/main\.ts enroll --api http:\/\/127\.0\.0\.1:\d+ && bun agent\/main\.ts run$/,
      );
      // The copy button is there only because copy.js ran (CSP allows it) and it copies exactly.
      const copy = page.getByRole("button", { name: "Copy command" });
      await copy.click();
      await page.getByRole("button", { name: "Copied" }).waitFor();
      expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(command);

      const token = /CADDIS_ENROL_TOKEN=(cde_[a-z2-7]{52})/.exec(command)![1]!;
      await enrollAgent({ apiUrl: origin, token, stateDir, hostname: "web-1.test" });
      agent = await startAgent({
        stateDir,
        mode: "sandbox",
        modeReason: "browser test",
        log: createLog({ name: "test-agent", write: () => {} }),
      });

      // The list shows the host online once the agent has said hello.
      await page.goto(`${origin}/hosts`);
      const row = page.locator("tr", { hasText: "web-1" });
      for (const deadline = Date.now() + 15_000; Date.now() < deadline;) {
        if (await row.getByText("Online").count() > 0) break;
        await page.reload();
      }
      await row.getByText("Online").waitFor();
      expect(await row.innerText()).toContain("Sandbox browser test");

      await row.getByRole("link", { name: "web-1" }).click();
      await page.getByRole("heading", { name: "web-1", exact: true }).waitFor();
      await page.getByRole("button", { name: "Diagnose" }).click();
      const history = page.locator("tr", { hasText: "host.diagnose" });
      for (const deadline = Date.now() + 15_000; Date.now() < deadline;) {
        if (await history.getByText("succeeded").count() > 0) break;
        await page.reload();
      }
      await history.getByText("succeeded").first().waitFor();

      await page.getByRole("button", { name: "Revoke…" }).click();
      await page.getByRole("button", { name: "Revoke web-1" }).click();
      await page.waitForURL(`${origin}/hosts?notice=revoked`);
      await page.getByText("Host revoked.").waitFor();
      expect(await page.locator("tr", { hasText: "web-1" }).count()).toBe(0);
      const deadline = Date.now() + 5_000;
      while (agent.isConnected() && Date.now() < deadline) await Bun.sleep(50);
      expect(agent.isConnected()).toBe(false);

      expect(watched.cspViolations).toEqual([]);
      expect(watched.pageErrors).toEqual([]);
      expect(watched.problems()).toEqual([]);
    }),
  90_000,
);
