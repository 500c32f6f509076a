import type { Server } from "bun";
import { afterAll, beforeAll, expect } from "bun:test";
import { decodeBase32IgnorePadding } from "@oslojs/encoding";
import { generateHOTP, generateTOTP } from "@oslojs/otp";
import type { Page } from "playwright-core";
import { prepareSetup } from "../api/services/setup.ts";
import { createTestApp, serveTestApp, type TestApp } from "../scripts/testing/app.ts";
import { TEST_PASSWORD } from "../scripts/testing/auth.ts";
import { type WatchedPage, withBrowser } from "../scripts/testing/browser.ts";
import { testWithTools } from "../scripts/testing/tools.ts";

let t: TestApp;
let server: Server<undefined>;
let origin: string;

const EMAIL = "owner@example.com";

beforeAll(async () => {
  t = await createTestApp();
  ({ server, url: origin } = serveTestApp(t));
});
afterAll(async () => {
  await server.stop(true);
  await t.close();
});

/** Clicks a submit button and waits for the navigation it starts to land on `path`. */
async function submitTo(page: Page, button: string, path: string | RegExp) {
  const url = typeof path === "string" ? `${origin}${path}` : path;
  await Promise.all([
    page.waitForURL(url),
    page.getByRole("button", { name: button, exact: true }).click(),
  ]);
}

async function signInWithPassword(page: Page) {
  await page.goto(`${origin}/login`);
  await page.getByLabel("Email").fill(EMAIL);
  await page.getByLabel("Password").fill(TEST_PASSWORD);
  await submitTo(page, "Sign in", `/login`);
  await page.getByRole("heading", { name: "Two-factor authentication" }).waitFor();
}

async function signOut(page: Page) {
  await submitTo(page, "Sign out", "/login?notice=signed-out");
  expect(await page.locator(".flash-info").textContent()).toBe("You are signed out.");
}

function expectClean(watched: WatchedPage) {
  expect(watched.cspViolations).toEqual([]);
  expect(watched.pageErrors).toEqual([]);
  expect(watched.problems()).toEqual([]);
}

testWithTools(
  ["chromium"],
  "setup, 2FA enrolment, TOTP and backup-code sign-ins and a silent refresh all work in Chromium",
  () =>
    withBrowser(async (browser) => {
      const watched = await browser.newPage();
      const { page } = watched;
      const context = page.context();

      // Setup, from the one-time link, lands signed in on the front page.
      const token = new URL((await prepareSetup(t.deps)) ?? "").searchParams.get("token");
      await page.goto(`${origin}/setup?token=${token}`);
      await page.getByLabel("Email").fill(EMAIL);
      await page.getByLabel("Password").fill(TEST_PASSWORD);
      await page.getByLabel("Organisation name").fill("Acme");
      await submitTo(page, "Create account", "/");
      // Chromium keeps Secure and __Host- cookies on http://127.0.0.1: it is a secure context.
      const names = (await context.cookies()).map((c) => c.name).sort();
      expect(names).toEqual([
        "__Host-caddis_access",
        "__Host-caddis_device",
        "__Secure-caddis_refresh",
      ]);
      expect(await page.locator(".signed-in-as").textContent()).toBe(EMAIL);

      // Enrol: read the key off the page and answer with an independently computed code.
      await page.getByRole("link", { name: "Account" }).click();
      await page.waitForURL(`${origin}/account`);
      await submitTo(page, "Set up two-factor authentication", "/account/2fa/setup");
      expect(await page.locator(".qr svg").count()).toBe(1);
      const key = ((await page.locator("#totp-key").textContent()) ?? "").replaceAll(" ", "");
      const secret = decodeBase32IgnorePadding(key);
      await page.getByLabel("Code from the app").fill(generateTOTP(secret, 30, 6));
      await submitTo(page, "Turn on two-factor authentication", "/account/2fa/enable");
      const codes = await page.locator("#backup-codes code").allTextContents();
      expect(codes).toHaveLength(10);
      await page.getByRole("link", { name: "I have saved these codes" }).click();
      await page.waitForURL(`${origin}/account`);
      expect(await page.locator("#two-factor").textContent()).toContain("10 backup codes left.");
      await signOut(page);

      // Password plus TOTP. This step's code was spent enrolling; the next step's is accepted.
      await signInWithPassword(page);
      const nextStep = BigInt(Math.floor(Date.now() / 30_000) + 1);
      await page.getByLabel("Authentication code").fill(generateHOTP(secret, nextStep, 6));
      await submitTo(page, "Verify", "/");
      await signOut(page);

      // Password plus a backup code, from the form folded away under <details>; without the
      // device cookie, as from another browser, so the sign-in counts as a new device.
      await context.clearCookies({ name: "__Host-caddis_device" });
      await signInWithPassword(page);
      await page.getByText("Use a backup code instead").click();
      await page.getByLabel("Backup code").fill(codes[0] ?? "");
      await submitTo(page, "Verify backup code", "/");

      await page.goto(`${origin}/account`);
      const events = await page.locator("#security-events tbody").innerText();
      for (
        const label of [
          "Sign-in from a new device",
          "Signed in with password and authenticator code",
          "Signed in with password and a backup code",
          "Backup code used",
          "Two-factor authentication turned on",
        ]
      ) {
        expect(events).toContain(label);
      }
      expect(await page.locator("#two-factor").textContent()).toContain("9 backup codes left.");

      // The access cookie expires after 30 minutes; the refresh cookie is invisible to pages.
      // Without the access cookie /account sends the browser to /login, whose script renews the
      // session and comes straight back.
      await context.clearCookies({ name: "__Host-caddis_access" });
      const refreshed = page.waitForResponse((r) =>
        new URL(r.url()).pathname === "/api/v1/auth/refresh"
      );
      await page.goto(`${origin}/account`);
      expect((await refreshed).status()).toBe(200);
      await page.waitForURL(`${origin}/account`);
      await page.getByRole("heading", { name: "Account", level: 1 }).waitFor();
      expect(await page.locator(".signed-in-as").textContent()).toBe(EMAIL);

      // htmx under the CSP: "Forget" posts from the page (with its Origin) and swaps the section.
      // Two devices: the setup browser and the "other browser" of the backup-code sign-in.
      const forget = page.getByRole("button", { name: /^Forget / });
      expect(await forget.count()).toBe(2);
      await forget.first().click();
      await page.locator("#devices .section-notice").waitFor();
      expect(page.url()).toBe(`${origin}/account`);
      expect(await page.getByRole("button", { name: /^Forget / }).count()).toBe(1);

      expectClean(watched);
    }),
  60_000,
);

testWithTools(
  ["chromium"],
  "a failed refresh leaves the browser on the login form and is not retried in a loop",
  () =>
    withBrowser(async (browser) => {
      const watched = await browser.newPage();
      const { page } = watched;
      const refreshes: number[] = [];
      page.on("response", (r) => {
        if (new URL(r.url()).pathname === "/api/v1/auth/refresh") refreshes.push(r.status());
      });

      const failed = page.waitForResponse((r) =>
        new URL(r.url()).pathname === "/api/v1/auth/refresh"
      );
      await page.goto(`${origin}/account`);
      expect((await failed).status()).toBe(401);
      expect(page.url()).toBe(`${origin}/login?next=%2Faccount`);

      // A reload within the minute does not try again; the marker says why.
      await page.reload({ waitUntil: "load" });
      expect(await page.evaluate(() => sessionStorage.getItem("caddis.refreshTriedAt"))).not
        .toBeNull();
      await page.getByRole("heading", { name: "Sign in" }).waitFor();
      expect(refreshes).toEqual([401]);
      expect(page.url()).toBe(`${origin}/login?next=%2Faccount`);

      // The 401 itself is the one message Chromium logs; nothing else went wrong.
      expect(watched.problems().map((m) => m.text)).toEqual([
        "Failed to load resource: the server responded with a status of 401 (Unauthorized)",
      ]);
      expect(watched.cspViolations).toEqual([]);
      expect(watched.pageErrors).toEqual([]);
    }),
  30_000,
);
