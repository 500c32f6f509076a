import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { currentConfig, isCaddyUp, loadCaddyfile } from "./caddy-admin.ts";
import {
  applyCaddyConfig,
  type CaddyApplyOptions,
  caddyfilePaths,
  createCaddyApplier,
} from "./caddy-config.ts";
import { type CaddyRenderInput, type CaddySite, renderCaddyfile } from "./render-caddyfile.ts";
import { writeFileAtomic } from "../atomic-write.ts";
import { tempDir } from "../test-fixtures.ts";
import { freePort } from "../../scripts/testing/ports.ts";
import { testWithTools } from "../../scripts/testing/tools.ts";
import { waitFor } from "../../scripts/testing/wait.ts";

setDefaultTimeout(60_000);

const template = await readFile(join(import.meta.dir, "../../Caddyfile.template"), "utf8");
const caddyPath = Bun.which("caddy") ?? "caddy";

let root: string;
let remove: () => Promise<void>;
let caddyDir: string;
let cleanups: (() => Promise<unknown> | unknown)[];

beforeEach(async () => {
  ({ dir: root, remove } = await tempDir("caddy-config"));
  caddyDir = join(root, "caddy");
  await mkdir(caddyDir, { mode: 0o700 });
  await mkdir(join(root, "run"), { mode: 0o700 });
  cleanups = [];
});
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await remove();
});

/** A stand-in worker on 127.0.0.1 that says who it is, with headers a PHP worker would send. */
function startWorker(name: string): number {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: () =>
      new Response(`hello from ${name}`, {
        headers: { "X-Powered-By": "PHP/8.2", Server: "php-cli" },
      }),
  });
  cleanups.push(() => server.stop(true));
  return server.port!;
}

function sandboxInput(sites: CaddySite[]): CaddyRenderInput {
  return {
    adminSocket: join(root, "run", "admin.sock"),
    mode: "sandbox",
    httpPort: freePort(),
    httpsPort: freePort(),
    logDir: join(root, "logs"),
    panel: null,
    sites,
  };
}

/** Runs `caddy run` on the rendered input, with every directory Caddy writes inside the test's. */
async function startCaddy(input: CaddyRenderInput): Promise<Subprocess> {
  await mkdir(input.logDir, { recursive: true });
  const file = caddyfilePaths(caddyDir).current;
  await writeFileAtomic(file, renderCaddyfile(template, input), 0o600);
  const proc = Bun.spawn([caddyPath, "run", "--config", file, "--adapter", "caddyfile"], {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: root,
      XDG_DATA_HOME: join(root, "data"),
      XDG_CONFIG_HOME: join(root, "config"),
    },
    stdout: "ignore",
    stderr: "pipe",
  });
  const output = new Response(proc.stderr).text();
  cleanups.push(async () => {
    proc.kill("SIGTERM");
    const kill = setTimeout(() => proc.kill("SIGKILL"), 5_000);
    await proc.exited;
    clearTimeout(kill);
  });
  await waitFor(
    "Caddy's admin socket",
    async () => {
      if (proc.exitCode !== null) throw new Error(`caddy exited:\n${(await output).slice(-3000)}`);
      return await isCaddyUp(input.adminSocket);
    },
    15_000,
    20,
  );
  return proc;
}

/** GETs `/` through Caddy for `host`, as a browser would, once Caddy's HTTP server answers. */
async function getThrough(input: CaddyRenderInput, host: string): Promise<Response> {
  let response: Response | null = null;
  await waitFor(
    `Caddy to answer for ${host}`,
    async () => {
      const headers = { Host: `${host}:${input.httpPort}` };
      response = await fetch(`http://127.0.0.1:${input.httpPort}/`, { headers })
        .catch(() => null);
      return response !== null;
    },
    10_000,
    20,
  );
  return response!;
}

function options(overrides: Partial<CaddyApplyOptions> = {}): CaddyApplyOptions {
  return { template, caddyPath, dir: caddyDir, ...overrides };
}

describe("applyCaddyConfig with a real Caddy", () => {
  testWithTools(["caddy"], "serves a site through its worker with security headers", async () => {
    const input = sandboxInput([
      { id: "site_blog", domains: ["blog.example.com"], upstreams: [startWorker("blog")] },
    ]);
    await startCaddy(input);
    expect(await applyCaddyConfig(input, options())).toEqual({ applied: true });

    const response = await getThrough(input, "blog.example.com");
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("hello from blog");
    expect(Object.fromEntries(response.headers)).toMatchObject({
      "strict-transport-security": "max-age=31536000",
      "x-content-type-options": "nosniff",
      "referrer-policy": "strict-origin-when-cross-origin",
      "x-frame-options": "SAMEORIGIN",
    });
    expect(response.headers.has("server")).toBe(false);
    expect(response.headers.has("x-powered-by")).toBe(false);

    // A client behind a port forward sends no port in Host; its request is logged as well.
    const portless = await fetch(`http://127.0.0.1:${input.httpPort}/`, {
      headers: { Host: "blog.example.com" },
    });
    expect(await portless.text()).toBe("hello from blog");

    const log = join(input.logDir, "site_blog.access.log");
    let entries: { request?: { host?: string }; status?: number }[] = [];
    await waitFor(
      "two access log lines",
      async () => {
        const text = await readFile(log, "utf8").catch(() => "");
        entries = text.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line));
        return entries.length >= 2;
      },
      10_000,
      20,
    );
    expect(entries).toMatchObject([
      { request: { host: `blog.example.com:${input.httpPort}` }, status: 200 },
      { request: { host: "blog.example.com" }, status: 200 },
    ]);
  });

  testWithTools(["caddy"], "leaves the admin socket 0600 in its 0700 directory", async () => {
    const input = sandboxInput([
      { id: "site_blog", domains: ["blog.example.com"], upstreams: [startWorker("blog")] },
    ]);
    await startCaddy(input);
    expect(await applyCaddyConfig(input, options())).toEqual({ applied: true });
    expect((await stat(input.adminSocket)).mode & 0o777).toBe(0o600);
    expect((await stat(join(root, "run"))).mode & 0o777).toBe(0o700);
    expect(await currentConfig(input.adminSocket)).toMatchObject({
      admin: { listen: `unix/${input.adminSocket}` },
    });
  });

  testWithTools(["caddy"], "adds a second site and keeps the last good config", async () => {
    const blog = { id: "site_blog", domains: ["blog.example.com"], upstreams: [startWorker("a")] };
    const input = sandboxInput([blog]);
    await startCaddy(input);
    const shop = { id: "site_shop", domains: ["shop.example.com"], upstreams: [startWorker("b")] };
    const next = { ...input, sites: [blog, shop] };
    expect(await applyCaddyConfig(next, options())).toEqual({ applied: true });

    expect(await (await getThrough(next, "shop.example.com")).text()).toBe("hello from b");
    expect(await (await getThrough(next, "blog.example.com")).text()).toBe("hello from a");
    const paths = caddyfilePaths(caddyDir);
    expect(await readFile(paths.lastGood, "utf8")).toBe(renderCaddyfile(template, next));
    expect((await stat(paths.lastGood)).mode & 0o777).toBe(0o600);
  });

  testWithTools(["caddy"], "a config the check refuses never reaches Caddy", async () => {
    const input = sandboxInput([
      { id: "site_blog", domains: ["blog.example.com"], upstreams: [startWorker("blog")] },
    ]);
    await startCaddy(input);
    expect(await applyCaddyConfig(input, options())).toEqual({ applied: true });
    const lastGood = await readFile(caddyfilePaths(caddyDir).lastGood, "utf8");
    const broken = template.replaceAll("\timport security_headers\n", "\tnot_a_directive\n");
    expect(broken).not.toBe(template);

    const result = await applyCaddyConfig(input, options({ template: broken }));
    expect(result).toMatchObject({ applied: false, stage: "check" });
    expect(result.applied ? "" : result.error).toContain("unrecognized directive: not_a_directive");
    expect(await (await getThrough(input, "blog.example.com")).text()).toBe("hello from blog");
    expect(await readFile(caddyfilePaths(caddyDir).current, "utf8")).toBe(lastGood);
    expect(await readFile(caddyfilePaths(caddyDir).lastGood, "utf8")).toBe(lastGood);
  });

  testWithTools(
    ["caddy"],
    "a config Caddy refuses on load leaves the old one running",
    async () => {
      const worker = startWorker("blog");
      const input = sandboxInput([
        { id: "site_blog", domains: ["blog.example.com"], upstreams: [worker] },
      ]);
      await startCaddy(input);
      expect(await applyCaddyConfig(input, options())).toEqual({ applied: true });
      const before = await currentConfig(input.adminSocket);

      // Valid to `caddy adapt`, but the port is taken (by the worker), so starting it fails.
      const result = await applyCaddyConfig({ ...input, httpPort: worker }, options());
      expect(result).toMatchObject({ applied: false, stage: "load" });
      expect(result.applied ? "" : result.error).toContain("address already in use");
      expect(await currentConfig(input.adminSocket)).toEqual(before);
      expect(await (await getThrough(input, "blog.example.com")).text()).toBe("hello from blog");
      expect(await readFile(caddyfilePaths(caddyDir).lastGood, "utf8")).toBe(
        renderCaddyfile(template, input),
      );

      // Nor does a refused adaptation on Caddy's side change anything.
      await expect(loadCaddyfile(input.adminSocket, "x {\n\tnope\n}\n")).rejects.toThrow(
        "Caddy refused the config",
      );
      expect(await currentConfig(input.adminSocket)).toEqual(before);
    },
  );
});

describe("applyCaddyConfig stages", () => {
  const accept = () => Promise.resolve({ ok: true as const, json: "{}" });

  test("a refused value stops at render: nothing is checked, written or loaded", async () => {
    const calls: string[] = [];
    const input = sandboxInput([
      { id: "site_a", domains: ["a.example.com}\nimport /etc/passwd"], upstreams: [20001] },
    ]);
    const result = await applyCaddyConfig(
      input,
      options({
        check: (text) => (calls.push(`check ${text.length}`), accept()),
        load: () => Promise.resolve(void calls.push("load")),
      }),
    );
    expect(result).toMatchObject({ applied: false, stage: "render" });
    expect(result.applied ? "" : result.error).toContain('site "site_a" has an invalid domains[0]');
    expect(calls).toEqual([]);
    expect(await stat(caddyfilePaths(caddyDir).current).catch(() => null)).toBeNull();
  });

  test("a failed load keeps the last good file and reports the loader's error", async () => {
    const input = sandboxInput([{ id: "site_a", domains: ["a.example.com"], upstreams: [20001] }]);
    expect(await applyCaddyConfig(input, options({ check: accept, load: async () => {} })))
      .toEqual({ applied: true });
    const result = await applyCaddyConfig(
      { ...input, sites: [] },
      options({ check: accept, load: () => Promise.reject(new Error("Caddy is down")) }),
    );
    expect(result).toEqual({ applied: false, stage: "load", error: "Caddy is down" });
    const paths = caddyfilePaths(caddyDir);
    expect(await readFile(paths.lastGood, "utf8")).toBe(renderCaddyfile(template, input));
    expect(await readFile(paths.current, "utf8")).toBe(
      renderCaddyfile(template, { ...input, sites: [] }),
    );
  });
});

describe("createCaddyApplier", () => {
  test("a burst of 100 offers loads at most a few times, ending on the newest", async () => {
    const loaded: string[] = [];
    const applier = createCaddyApplier((input) =>
      applyCaddyConfig(
        input,
        options({
          // The "adapted JSON" is the text itself, so what was loaded can be read back.
          check: (text) => Promise.resolve({ ok: true, json: text }),
          load: (_socket, json) => Promise.resolve(void loaded.push(json)),
        }),
      )
    );
    const base = sandboxInput([]);
    const inputs = Array.from({ length: 100 }, (_, i) => ({
      ...base,
      sites: [{ id: "site_a", domains: ["a.example.com"], upstreams: [20_000 + i] }],
    }));
    const results = await Promise.all(inputs.map((input) => applier.offer(input)));
    await applier.idle();

    expect(results.every((result) => result.applied)).toBe(true);
    expect(loaded.length).toBeGreaterThanOrEqual(1);
    expect(loaded.length).toBeLessThanOrEqual(3);
    expect(loaded.at(-1)).toBe(renderCaddyfile(template, inputs[99]!));
  });

  test("an offer made during an apply gets the result of the apply that included it", async () => {
    const gates: (() => void)[] = [];
    const applier = createCaddyApplier(async (input) => {
      await new Promise<void>((open) => gates.push(open));
      return input.sites.length === 0
        ? { applied: true }
        : { applied: false, stage: "check", error: "refused" };
    });
    const first = applier.offer(sandboxInput([]));
    const site = { id: "site_a", domains: ["a.example.com"], upstreams: [20001] };
    const second = applier.offer(sandboxInput([site]));
    const third = applier.offer(sandboxInput([site]));
    await waitFor("the first apply to start", () => gates.length === 1, 5_000, 5);
    gates[0]!();
    expect(await first).toEqual({ applied: true });
    await waitFor("the coalesced apply to start", () => gates.length === 2, 5_000, 5);
    gates[1]!();
    const failed = { applied: false, stage: "check", error: "refused" } as const;
    expect(await Promise.all([second, third])).toEqual([failed, failed]);
    await applier.idle();
    expect(gates.length).toBe(2);
  });
});
