import { describe, expect, test } from "bun:test";
import { TOOL_NAMES, type ToolInventory } from "../protocol/host-report.ts";
import type { DesiredSite } from "../protocol/sites.ts";
import { DEFAULT_PATH } from "../exec.ts";
import { availableRuntimes, workerArgv, workerEnv } from "./worker-command.ts";

const SECRET = "s3cret-value-$(rm -rf /)";

function site(overrides: Partial<DesiredSite> = {}): DesiredSite {
  return {
    id: "site_blog",
    domains: ["blog.example.com"],
    runtime: "frankenphp",
    docroot: "public",
    workerScript: null,
    port: 9001,
    user: "site-blog",
    env: { APP_KEY: SECRET },
    enabled: true,
    ...overrides,
  };
}

const binaries = { frankenphp: "/usr/local/bin/frankenphp", "php-cli": "/usr/bin/php" };
const release = "/srv/caddis/site_blog/current";
const places = { releaseDir: release, home: "/srv/caddis/site_blog", tmpDir: "/tmp/w/site_blog" };

describe("workerArgv", () => {
  test("frankenphp serves the docroot classically without a worker script", () => {
    expect(workerArgv(site(), 9001, binaries, release)).toEqual([
      "/usr/local/bin/frankenphp",
      "php-server",
      "--listen",
      "127.0.0.1:9001",
      "--root",
      `${release}/public`,
    ]);
  });

  test("frankenphp runs the worker script in worker mode", () => {
    expect(workerArgv(site({ workerScript: "public/worker.php" }), 9002, binaries, release))
      .toEqual([
        "/usr/local/bin/frankenphp",
        "php-server",
        "--listen",
        "127.0.0.1:9002",
        "--root",
        `${release}/public`,
        "--worker",
        `${release}/public/worker.php`,
      ]);
  });

  test("php-cli runs PHP's built-in server on the release root when the docroot is empty", () => {
    const argv = workerArgv(
      site({ runtime: "php-cli", docroot: "", workerScript: "w.php" }),
      9003,
      binaries,
      release,
    );
    expect(argv).toEqual(["/usr/bin/php", "-S", "127.0.0.1:9003", "-t", release]);
  });

  test("env values never appear in argv", () => {
    for (const runtime of ["frankenphp", "php-cli"] as const) {
      const argv = workerArgv(site({ runtime }), 9001, binaries, release);
      expect(argv.join("\n")).not.toContain("s3cret");
    }
  });

  test("a runtime missing on the host is refused by name", () => {
    expect(() => workerArgv(site(), 9001, { "php-cli": "/usr/bin/php" }, release)).toThrow(
      "runtime frankenphp is not installed here",
    );
  });

  const hostile: [string, Partial<DesiredSite>, number][] = [
    ["docroot", { docroot: "../../etc" }, 9001],
    ["docroot", { docroot: "/etc" }, 9001],
    ["docroot", { docroot: "public/../.." }, 9001],
    ["docroot", { docroot: "public\n--worker" }, 9001],
    ["docroot", { docroot: "pub lic" }, 9001],
    ["docroot", { docroot: "-d/x" }, 9001],
    ["docroot", { docroot: "public/--worker" }, 9001],
    ["workerScript", { workerScript: "../worker.php" }, 9001],
    ["workerScript", { workerScript: "" }, 9001],
    ["workerScript", { workerScript: "-c/php.ini" }, 9001],
    ["user", { user: "root;id" }, 9001],
    ["user", { user: "-oProxyCommand" }, 9001],
    ["runtime", { runtime: "sh" as DesiredSite["runtime"] }, 9001],
    ["port", {}, 80],
    ["port", {}, 70_000],
    ["port", {}, 9001.5],
  ];
  for (const [field, overrides, port] of hostile) {
    test(`refuses a hostile ${field}: ${JSON.stringify(overrides[field as keyof DesiredSite] ?? port)}`, () => {
      expect(() => workerArgv(site(overrides), port, binaries, release)).toThrow(
        `Cannot start site site_blog: ${field} `,
      );
    });
  }

  test("a relative release directory is refused", () => {
    expect(() => workerArgv(site(), 9001, binaries, "srv/current")).toThrow("absolute path");
  });
});

describe("workerEnv", () => {
  test("is the site's env plus PATH, HOME and a private TMPDIR, and nothing of the agent's", () => {
    process.env.CADDIS_WORKER_TEST_LEAK = "agent-only";
    try {
      expect(workerEnv(site(), places)).toEqual({
        APP_KEY: SECRET,
        PATH: DEFAULT_PATH,
        HOME: places.home,
        TMPDIR: places.tmpDir,
      });
    } finally {
      delete process.env.CADDIS_WORKER_TEST_LEAK;
    }
  });

  test("a site cannot redirect PATH, HOME or TMPDIR", () => {
    const env = workerEnv(
      site({ env: { PATH: "/tmp/evil", HOME: "/root", TMPDIR: "/tmp" } }),
      places,
    );
    expect(env).toEqual({ PATH: DEFAULT_PATH, HOME: places.home, TMPDIR: places.tmpDir });
  });

  test("a hostile env name is refused by name", () => {
    expect(() => workerEnv(site({ env: { "LD_PRELOAD=/x BAD": "1" } }), places)).toThrow(
      'env name "LD_PRELOAD=/x BAD" is invalid',
    );
  });

  test("a NUL byte in a value is refused without printing the value", () => {
    let message = "";
    try {
      workerEnv(site({ env: { APP_KEY: `${SECRET}\0tail` } }), places);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe("Cannot start site site_blog: env APP_KEY contains a NUL byte");
  });
});

describe("availableRuntimes", () => {
  const absent = { present: false, path: null, version: null };
  const none = Object.fromEntries(TOOL_NAMES.map((name) => [name, absent])) as ToolInventory;

  test("maps php to php-cli and frankenphp to itself, only when present", () => {
    const inventory: ToolInventory = {
      ...none,
      php: { present: true, path: "/usr/bin/php", version: "PHP 8.2" },
      caddy: { present: true, path: "/usr/bin/caddy", version: "v2.6" },
    };
    expect(availableRuntimes(inventory)).toEqual({ "php-cli": "/usr/bin/php" });
    expect(
      availableRuntimes({ ...inventory, frankenphp: { ...absent, present: true, path: "/f" } }),
    )
      .toEqual({ "php-cli": "/usr/bin/php", frankenphp: "/f" });
    expect(availableRuntimes(none)).toEqual({});
  });
});
