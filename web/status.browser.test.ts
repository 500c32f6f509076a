import type { Server } from "bun";
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect } from "node:net";
import { withBrowser } from "../scripts/testing/browser.ts";
import { createTestApp, serveTestApp, type TestApp } from "../scripts/testing/app.ts";
import { testWithTools } from "../scripts/testing/tools.ts";

let t: TestApp;
let server: Server<undefined>;
let origin: string;

beforeAll(async () => {
  t = await createTestApp();
  ({ server, url: origin } = serveTestApp(t));
});
afterAll(async () => {
  await server.stop(true);
  await t.close();
});

/** What the page sees of htmx, typed for `page.evaluate`. */
interface HtmxGlobal {
  htmx?: { version: string; config: { includeIndicatorStyles: boolean; allowEval: boolean } };
}

/** Sends `GET <rawPath>` over a bare socket, so no client library normalises the `..` away. */
function rawGet(rawPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port ?? 0, "127.0.0.1");
    let response = "";
    socket.setTimeout(5000, () => socket.destroy(new Error("raw request timed out")));
    socket.on("data", (chunk) => (response += chunk.toString()));
    socket.on("end", () => resolve(response));
    socket.on("error", reject);
    socket.write(`GET ${rawPath} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  });
}

test("a raw ../ path sent to the real server does not leak files", async () => {
  for (
    const path of [
      "/static/../package.json",
      "/static/../../package.json",
      "/static/%2e%2e/package.json",
    ]
  ) {
    const response = await rawGet(path);
    expect(response).toMatch(/^HTTP\/1\.1 404/);
    expect(response).not.toContain('"name": "caddis"');
  }
});

testWithTools(
  ["chromium"],
  "the status page renders in Chromium with htmx loaded and a clean console",
  () =>
    withBrowser(async (browser) => {
      const watched = await browser.newPage();
      const { page } = watched;
      // Browsers fetch the icon after `load`; waiting for it keeps its outcome inside the test.
      const favicon = page.waitForResponse((r) =>
        new URL(r.url()).pathname === "/static/favicon.svg"
      );
      const [response, faviconResponse] = await Promise.all([
        page.goto(`${origin}/status`, { waitUntil: "load" }),
        favicon,
      ]);
      expect(response?.status()).toBe(200);
      expect(faviconResponse.status()).toBe(200);

      expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Status");
      const facts = await page.locator("dl.facts").innerText();
      expect(facts).toContain(`Caddis ${t.deps.version}`);
      expect(facts).toContain(`Bun ${t.deps.runtime.version}`);

      // htmx ran (the vendored file loaded under the CSP) and took its config from the meta tag.
      const htmx = await page.evaluate(() => {
        const { htmx } = window as unknown as HtmxGlobal;
        return htmx && { version: htmx.version, config: htmx.config };
      });
      expect(htmx?.version).toBe("2.0.11");
      expect(htmx?.config.includeIndicatorStyles).toBe(false);
      expect(htmx?.config.allowEval).toBe(false);

      // app.css applied: indicators are hidden by our stylesheet, not by an injected <style>.
      const indicator = await page.evaluate(() => {
        const probe = document.createElement("span");
        probe.className = "htmx-indicator";
        document.body.append(probe);
        const opacity = getComputedStyle(probe).opacity;
        probe.remove();
        return { opacity, styleElements: document.querySelectorAll("style").length };
      });
      expect(indicator).toEqual({ opacity: "0", styleElements: 0 });

      expect(watched.cspViolations).toEqual([]);
      expect(watched.pageErrors).toEqual([]);
      expect(watched.problems()).toEqual([]);
    }),
  30_000,
);

testWithTools(
  ["chromium"],
  "the CSP blocks an injected inline script and the page reports the violation",
  () =>
    withBrowser(async (browser) => {
      const watched = await browser.newPage();
      const { page } = watched;
      await page.goto(`${origin}/status`, { waitUntil: "load" });
      expect(watched.cspViolations).toEqual([]);

      await page.evaluate(() => {
        const script = document.createElement("script");
        script.textContent = "document.body.dataset.inlineScriptRan = 'yes'";
        document.body.append(script);
      });
      await watched.waitFor("a CSP violation report", () => watched.cspViolations.length > 0);
      // Chromium also logs the refusal: proof that the clean-console check can see such errors.
      await watched.waitFor("the console error", () =>
        watched.problems().some((m) => m.text.includes("Content Security Policy")));

      expect(watched.cspViolations[0]).toMatchObject({ directive: "script-src-elem" });
      expect(
        await page.evaluate(() =>
          document.body.dataset.inlineScriptRan
        ),
      ).toBeUndefined();
    }),
  30_000,
);
