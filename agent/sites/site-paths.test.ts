import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmod, lstat, mkdir, readdir, stat, symlink } from "node:fs/promises";
import { join, resolve } from "node:path";
import { tempDir } from "../test-fixtures.ts";
import { HOSTILE_STRINGS, PATH_PAYLOADS } from "../../scripts/testing/hostile-strings.ts";
import {
  preparePlaces,
  prepareSiteDirs,
  type SiteLayout,
  siteLayout,
  sitePlaces,
  siteRoot,
} from "./site-paths.ts";

let dir: string;
let remove: () => Promise<void>;
beforeEach(async () => ({ dir, remove } = await tempDir("site-paths")));
afterEach(() => remove());

const AS_ROOT = process.getuid?.() === 0;
const mode = async (path: string) => (await stat(path)).mode & 0o777;
const mkdirp = (path: string) => mkdir(path, { recursive: true });

describe("where sites live", () => {
  test("under /srv/caddis in system mode and the state dir in sandbox mode, unless told", () => {
    expect(sitePlaces("system", "/var/lib/caddis-agent")).toEqual({
      sitesDir: "/srv/caddis/sites",
      trashDir: "/srv/caddis/trash",
    });
    expect(sitePlaces("sandbox", "/home/me/agent")).toEqual({
      sitesDir: "/home/me/agent/sites",
      trashDir: "/home/me/agent/trash",
    });
    expect(sitePlaces("system", "/var/lib/caddis-agent", "/tmp/t")).toEqual({
      sitesDir: "/tmp/t/sites",
      trashDir: "/tmp/t/trash",
    });
  });

  test("a site's layout: current (with its docroot), logs and tmp under its root", () => {
    expect(siteLayout("/srv/caddis/sites", { id: "site_a", docroot: "web/public" })).toEqual({
      root: "/srv/caddis/sites/site_a",
      current: "/srv/caddis/sites/site_a/current",
      docroot: "/srv/caddis/sites/site_a/current/web/public",
      logs: "/srv/caddis/sites/site_a/logs",
      tmp: "/srv/caddis/sites/site_a/tmp",
    });
    expect(siteLayout("/s", { id: "site_a", docroot: "" }).docroot).toBe("/s/site_a/current");
  });

  test("refuses ids and docroots that would lead anywhere else", () => {
    let refused = 0;
    for (const hostile of [...HOSTILE_STRINGS, ...PATH_PAYLOADS, "..", "site_a/../b", "-rf"]) {
      expect(() => siteRoot("/srv/caddis/sites", hostile)).toThrow("Invalid site id");
      try {
        // A plain word is a fine docroot; whatever is accepted stays inside `current`.
        const { docroot } = siteLayout("/s", { id: "site_a", docroot: hostile });
        expect(resolve(docroot)).toBe(docroot);
        expect(`${docroot}/`).toStartWith("/s/site_a/current/");
      } catch (err) {
        expect((err as Error).message).toStartWith("Site site_a has an invalid docroot");
        refused += 1;
      }
    }
    expect(refused).toBeGreaterThan(HOSTILE_STRINGS.length / 2);
  });
});

describe("prepareSiteDirs", () => {
  let layout: SiteLayout;
  beforeEach(async () => {
    await preparePlaces({ sitesDir: join(dir, "sites"), trashDir: join(dir, "trash") });
    layout = siteLayout(join(dir, "sites"), { id: "site_a", docroot: "public" });
  });
  const makeDocroot = (path: string) => mkdirp(path);

  test("makes root, current and logs 0750, the docroot inside current, and a 0700 trash", async () => {
    await prepareSiteDirs(layout, null, makeDocroot);
    expect(await mode(join(dir, "trash"))).toBe(0o700);
    expect(await mode(layout.root)).toBe(0o750);
    expect(await mode(layout.current)).toBe(0o750);
    expect(await mode(layout.logs)).toBe(0o750);
    expect((await stat(layout.docroot)).isDirectory()).toBe(true);
    // Idempotent, and it narrows a mode someone widened.
    await chmod(layout.root, 0o777);
    await prepareSiteDirs(layout, null, makeDocroot);
    expect(await mode(layout.root)).toBe(0o750);
  });

  if (!AS_ROOT) console.warn("skip: giving a site's directories to its user needs root");
  test.skipIf(!AS_ROOT)("gives the tree to the site's owner", async () => {
    await prepareSiteDirs(layout, { uid: 65_534, gid: 65_534 }, makeDocroot);
    for (const path of [layout.root, layout.current, layout.logs]) {
      expect((await stat(path)).uid).toBe(65_534);
    }
  });

  test("leaves a current that is a link to a release alone, creating the docroot in it", async () => {
    const release = join(layout.root, "releases", "r1");
    await mkdirp(release);
    await chmod(release, 0o755);
    await symlink(release, layout.current);
    await prepareSiteDirs(layout, null, makeDocroot);
    expect((await lstat(layout.current)).isSymbolicLink()).toBe(true);
    expect(await mode(release)).toBe(0o755);
    expect(await readdir(release)).toEqual(["public"]);
  });

  test("refuses logs swapped for a link, without touching what it points at", async () => {
    const target = join(dir, "elsewhere");
    await mkdirp(target);
    await chmod(target, 0o755);
    await mkdirp(layout.root);
    await symlink(target, layout.logs);
    const owner = AS_ROOT ? { uid: 65_534, gid: 65_534 } : null;
    await expect(prepareSiteDirs(layout, owner, makeDocroot)).rejects
      .toThrow(`${layout.logs} must be a directory, not a symbolic link or a file`);
    expect(await mode(target)).toBe(0o755);
    expect((await stat(target)).uid).toBe(process.getuid?.() ?? 0);
  });
});
