import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmod, mkdir, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { DesiredSite } from "../protocol/sites.ts";
import { tempDir } from "../test-fixtures.ts";
import { createWorkerLauncher, type LauncherOptions } from "./launcher.ts";

let dir: string;
let remove: () => Promise<void>;
beforeEach(async () => {
  ({ dir, remove } = await tempDir("launcher"));
  // Prints its environment and exits: enough to see what a worker would get.
  await writeFile(join(dir, "fake-php"), "#!/bin/sh\nenv\n", { mode: 0o755 });
});
afterEach(() => remove());

const site: DesiredSite = {
  id: "site_l",
  domains: ["l.example.com"],
  runtime: "php-cli",
  docroot: "",
  workerScript: null,
  port: 9001,
  user: "site-l",
  env: {},
  enabled: true,
};

function launcher(overrides: Partial<LauncherOptions> = {}) {
  return createWorkerLauncher({
    binaries: { "php-cli": join(dir, "fake-php") },
    releaseDir: () => dir,
    tmpDir: (site) => join(dir, `tmp-${site.id}`),
    asSiteUser: false,
    ...overrides,
  });
}

describe("createWorkerLauncher", () => {
  test("gives the worker a private temp dir, mode 0700, as TMPDIR", async () => {
    const proc = await launcher()(site, 9001);
    await proc.exited;
    const tmp = join(dir, "tmp-site_l");
    expect((await stat(tmp)).mode & 0o777).toBe(0o700);
    expect(proc.tail().stdout).toContain(`TMPDIR=${tmp}`);
  });

  test("refuses a site user that does not exist, or is root, when running as root", async () => {
    const asRoot = { asSiteUser: true };
    await expect(launcher({ ...asRoot, lookupUser: () => Promise.resolve(null) })(site, 9001))
      .rejects
      .toThrow("Cannot start site site_l: its user site-l does not exist");
    const root = { uid: 0, gid: 0, home: "/root" };
    await expect(launcher({ ...asRoot, lookupUser: () => Promise.resolve(root) })(site, 9001))
      .rejects
      .toThrow("Cannot start site site_l: its user site-l is root");
  });

  test("refuses a temp dir that was replaced by a symbolic link, leaving its target alone", async () => {
    await mkdir(join(dir, "elsewhere"));
    await chmod(join(dir, "elsewhere"), 0o755);
    await symlink(join(dir, "elsewhere"), join(dir, "tmp-site_l"));
    await expect(launcher()(site, 9001)).rejects.toThrow(
      "must be a directory, not a symbolic link or a file",
    );
    expect((await stat(join(dir, "elsewhere"))).mode & 0o777).toBe(0o755);
  });
});
