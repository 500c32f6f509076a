import type { Server } from "bun";
import { afterAll, beforeAll, expect } from "bun:test";
import { TENANT_COOKIE } from "../api/auth/cookies.ts";
import { addMembership } from "../api/services/membership.ts";
import { createTestApp, serveTestApp, type TestApp } from "../scripts/testing/app.ts";
import { TEST_PASSWORD } from "../scripts/testing/auth.ts";
import { withBrowser } from "../scripts/testing/browser.ts";
import { addTestMember, addTestTenant, setupAcme } from "../scripts/testing/members.ts";
import { testWithTools } from "../scripts/testing/tools.ts";

let t: TestApp;
let server: Server<undefined>;
let origin: string;
let beta: string;

const EMAIL = "two@example.com";

beforeAll(async () => {
  t = await createTestApp();
  ({ server, url: origin } = serveTestApp(t));
  const { acme } = await setupAcme(t);
  beta = await addTestTenant(t, "Beta");
  const { userId } = await addTestMember(t, {
    email: EMAIL,
    tenantId: acme,
    roleIds: ["role_viewer"],
  });
  await t.deps.database.db.transaction((tx) =>
    addMembership(tx, { tenantId: beta, userId, roleIds: ["role_owner"] })
  );
});
afterAll(async () => {
  await server.stop(true);
  await t.close();
});

testWithTools(
  ["chromium"],
  "a member of two tenants switches between them with the header form",
  () =>
    withBrowser(async (browser) => {
      const watched = await browser.newPage();
      const { page } = watched;

      await page.goto(`${origin}/login`);
      await page.getByLabel("Email").fill(EMAIL);
      await page.getByLabel("Password").fill(TEST_PASSWORD);
      await Promise.all([
        page.waitForURL(`${origin}/`),
        page.getByRole("button", { name: "Sign in", exact: true }).click(),
      ]);

      await page.goto(`${origin}/tenants`);
      const badge = page.locator(".badge", { hasText: "Active" });
      const active = page.locator("#tenants tbody tr", { has: badge });
      expect(await active.locator("td").first().innerText()).toContain("Acme");
      const nav = page.getByRole("navigation", { name: "Main" });
      expect(await nav.getByRole("link", { name: "Members" }).count()).toBe(0);

      // The header form: pick Beta, press Switch, and come back to the same page.
      const menu = page.getByRole("combobox", { name: "Organisation", exact: true });
      await menu.selectOption({ label: "Beta" });
      await Promise.all([
        page.waitForResponse((r) => new URL(r.url()).pathname === "/tenants" && r.status() === 200),
        page.getByRole("button", { name: "Switch", exact: true }).click(),
      ]);
      // Waits for the new document: until it has loaded, the old page may still be showing.
      await page.locator("#tenants tbody tr", { hasText: "Beta", has: badge }).waitFor();
      expect(page.url()).toBe(`${origin}/tenants`);
      expect(await active.count()).toBe(1);
      expect(await menu.inputValue()).toBe(beta);
      // An owner in Beta, where the member may see the members page.
      expect(await nav.getByRole("link", { name: "Members" }).count()).toBe(1);

      const [cookie] = (await page.context().cookies()).filter((c) => c.name === TENANT_COOKIE);
      expect(cookie).toMatchObject({
        value: beta,
        httpOnly: true,
        secure: true,
        sameSite: "Strict",
      });

      expect(watched.cspViolations).toEqual([]);
      expect(watched.pageErrors).toEqual([]);
      expect(watched.problems()).toEqual([]);
    }),
  60_000,
);
