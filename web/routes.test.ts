import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createApp } from "../api/app.ts";
import { createTestApp, type TestApp } from "../scripts/testing/app.ts";
import { STATIC_ROOT } from "./assets.ts";

let t: TestApp;
let statusHtml: string;

beforeAll(async () => {
  t = await createTestApp();
  statusHtml = await (await t.app.request("/status")).text();
});
afterAll(() => t.close());

const IMMUTABLE = "public, max-age=31536000, immutable";

function expectSecurityHeaders(res: Response) {
  expect(res.headers.get("content-security-policy")).toStartWith("default-src 'self'");
  expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  expect(res.headers.get("x-frame-options")).toBe("DENY");
}

/** The versioned URL the status page links for `file`, e.g. `/static/app.css?v=…`. */
function linkedUrl(file: string): string {
  const escaped = file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const match = statusHtml.match(new RegExp(`"(/static/${escaped}\\?v=[0-9a-f]+)"`));
  if (!match?.[1]) throw new Error(`the status page does not link ${file}`);
  return match[1];
}

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

describe("status page", () => {
  test("renders version, runtime, database and migrations with a ready badge", async () => {
    const res = await t.app.request("/status");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("text/html");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expectSecurityHeaders(res);
    expect(statusHtml).toStartWith("<!DOCTYPE html>");
    expect(statusHtml).toContain(`Caddis ${t.deps.version}`);
    expect(statusHtml).toContain(`Bun ${t.deps.runtime.version}`);
    expect(statusHtml).toMatch(/Embedded PGlite|PostgreSQL server/);
    expect(statusHtml).toMatch(/(\d+) of \1 applied/);
    expect(statusHtml).toContain(`<span class="badge badge-ok">Ready</span>`);
  });

  test("has no inline scripts, style attributes or event-handler attributes", () => {
    const scripts = [...statusHtml.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, body] of scripts) {
      expect(attributes).toContain('src="/static/');
      expect(body).toBe("");
    }
    expect(statusHtml).not.toMatch(/<style\b/i);
    expect(statusHtml).not.toMatch(/\sstyle\s*=/i);
    expect(statusHtml).not.toMatch(/\son[a-z]+\s*=/i);
  });

  test("turns off htmx's inline indicator styles and eval, which the CSP would block", () => {
    const config = statusHtml.match(/<meta name="htmx-config" content="([^"]*)"/)?.[1];
    const parsed = JSON.parse((config ?? "").replaceAll("&quot;", '"'));
    expect(parsed).toMatchObject({
      includeIndicatorStyles: false,
      allowEval: false,
      allowScriptTags: false,
    });
  });

  test("still renders, with 503, when the database is unreachable", async () => {
    const readiness = {
      ...t.deps.readiness,
      check: () =>
        Promise.resolve({
          ready: false,
          database: { kind: "server" as const, reachable: false },
          migrations: { applied: 0, shipped: 7 },
        }),
    };
    const res = await createApp({ ...t.deps, readiness }).request("/status");
    expect(res.status).toBe(503);
    const html = await res.text();
    expect(html).toContain("PostgreSQL server");
    expect(html).toContain(`<span class="badge badge-error">Unreachable</span>`);
    expect(html).toContain(`<span class="badge badge-error">Not ready</span>`);
    expect(html).toContain("Unknown while the database is unreachable (7 shipped)");
  });

  test("GET / sends a signed-out browser to the login page", async () => {
    const res = await t.app.request("/");
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/login?next=%2F");
  });
});

describe("static files", () => {
  test("the vendored htmx is the npm package's file, byte for byte", () => {
    const vendored = readFileSync(join(STATIC_ROOT, "vendor/htmx-2.0.11.min.js"));
    const upstream = readFileSync(
      fileURLToPath(new URL("../node_modules/htmx.org/dist/htmx.min.js", import.meta.url).href),
    );
    expect(vendored.equals(upstream)).toBe(true);
  });

  test("a URL with the current content version is immutable and carries security headers", async () => {
    const url = linkedUrl("vendor/htmx-2.0.11.min.js");
    const res = await t.app.request(url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("text/javascript");
    expect(res.headers.get("cache-control")).toBe(IMMUTABLE);
    expectSecurityHeaders(res);
    const body = new Uint8Array(await res.arrayBuffer());
    expect(url).toEndWith(`?v=${(await sha256Hex(body)).slice(0, 12)}`);
  });

  test("the stylesheet is served as CSS under its content version", async () => {
    const res = await t.app.request(linkedUrl("app.css"));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("text/css");
    expect(res.headers.get("cache-control")).toBe(IMMUTABLE);
  });

  test("a wrong or missing version must revalidate instead of being cached forever", async () => {
    const path = "/static/vendor/htmx-2.0.11.min.js";
    for (const url of [path, `${path}?v=000000000000`, `${path}?v=`]) {
      const res = await t.app.request(url);
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toBe("no-cache");
    }
  });

  test("path traversal does not leak files outside web/static", async () => {
    const attempts = [
      "/static/../package.json",
      "/static/%2e%2e/package.json",
      "/static/..%2fpackage.json",
      "/static/%2e%2e%2fpackage.json",
      "/static/vendor/..%2f..%2f..%2fpackage.json",
      "/static/..%5cpackage.json",
    ];
    for (const url of attempts) {
      const res = await t.app.request(url);
      expect(res.status).toBe(404);
      expect(await res.text()).not.toContain('"name": "caddis"');
    }
  });

  test("an unknown file is the app's JSON 404 with security headers", async () => {
    for (const url of ["/static/nope.js", "/static/", "/static/vendor"]) {
      const res = await t.app.request(url);
      expect(res.status).toBe(404);
      expect(res.headers.get("content-type")).toStartWith("application/json");
      expect(res.headers.get("cache-control")).toBe("no-store");
      expectSecurityHeaders(res);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("not_found");
    }
  });
});
