import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmod, chown, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { RunOptions, RunResult } from "../exec.ts";
import { tempDir } from "../test-fixtures.ts";
import { lookupUser } from "../workers/site-user.ts";
import { HOSTILE_STRINGS } from "../../scripts/testing/hostile-strings.ts";
import {
  ensureSiteUser,
  makeDirAs,
  removeSiteUsers,
  useraddArgv,
  userdelArgv,
} from "./site-users.ts";

const AS_ROOT = process.getuid?.() === 0;
const HOME = "/srv/caddis/sites/site_a";

let dir: string;
let remove: () => Promise<void>;
let passwdPath: string;
let runs: string[][];
beforeEach(async () => {
  ({ dir, remove } = await tempDir("site-users"));
  passwdPath = join(dir, "passwd");
  runs = [];
});
afterEach(() => remove());

const ok: RunResult = {
  exitCode: 0,
  signal: null,
  stdout: "",
  stderr: "",
  timedOut: false,
  truncated: false,
  error: null,
};

/** A fake user database: `run` records the command and applies useradd to the passwd file. */
function fakeHost(lines: string[], result: Partial<RunResult> = {}) {
  const write = () => writeFile(passwdPath, `${lines.join("\n")}\n`);
  const run = async (argv: string[], _options: RunOptions): Promise<RunResult> => {
    runs.push(argv);
    if (argv[0] === "useradd" && (result.exitCode ?? 0) === 0) {
      lines.push(`${argv.at(-1)}:x:998:998::${argv[4]}:/usr/sbin/nologin`);
      await write();
    }
    return { ...ok, ...result };
  };
  return { write, deps: { run, passwdPath } };
}

describe("site user command lines", () => {
  test("are exactly the system-user commands, the name last", () => {
    expect(useraddArgv("site-a", HOME)).toEqual([
      "useradd",
      "--system",
      "--no-create-home",
      "--home-dir",
      "/srv/caddis/sites/site_a",
      "--shell",
      "/usr/sbin/nologin",
      "site-a",
    ]);
    expect(userdelArgv("site-a")).toEqual(["userdel", "site-a"]);
  });

  test("refuse every name outside the allowlist, so none can be read as an option", () => {
    for (const name of [...HOSTILE_STRINGS, "-r", "--help", "Root", "a".repeat(33)]) {
      if (/^[a-z_][a-z0-9_-]{0,31}$/.test(name)) continue;
      expect(() => useraddArgv(name, HOME)).toThrow("Invalid site user name");
      expect(() => userdelArgv(name)).toThrow("Invalid site user name");
    }
  });
});

describe("ensureSiteUser", () => {
  test("creates a missing user with the site's root as its home", async () => {
    const host = fakeHost(["root:x:0:0:root:/root:/bin/bash"]);
    await host.write();
    expect(await ensureSiteUser("site-a", HOME, host.deps)).toEqual({
      uid: 998,
      gid: 998,
      home: HOME,
    });
    expect(runs).toEqual([useraddArgv("site-a", HOME)]);
  });

  test("uses its own existing user without running anything", async () => {
    const host = fakeHost([`site-a:x:990:990::${HOME}:/usr/sbin/nologin`]);
    await host.write();
    expect(await ensureSiteUser("site-a", HOME, host.deps)).toMatchObject({ uid: 990 });
    expect(runs).toEqual([]);
  });

  test("never takes over a user that is not this site's, nor root", async () => {
    const host = fakeHost([
      "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin",
      `toor:x:0:0::${HOME}:/bin/sh`,
    ]);
    await host.write();
    await expect(ensureSiteUser("www-data", HOME, host.deps)).rejects.toThrow(
      "User www-data already exists and is not this site's (its home is /var/www, not " +
        `${HOME}); choose another user name for the site`,
    );
    await expect(ensureSiteUser("toor", HOME, host.deps)).rejects.toThrow("is not this site's");
    expect(runs).toEqual([]);
  });

  test("reports useradd's own reason when it fails", async () => {
    const host = fakeHost([], { exitCode: 9, stderr: "useradd: group site-a exists\n" });
    await host.write();
    await expect(ensureSiteUser("site-a", HOME, host.deps)).rejects.toThrow(
      "useradd site-a failed: useradd: group site-a exists",
    );
  });
});

describe("removeSiteUsers", () => {
  test("deletes only the users whose home is the removed site's root", async () => {
    const host = fakeHost([
      `site-a:x:990:990::${HOME}:/usr/sbin/nologin`,
      `site-a2:x:991:991::${HOME}:/usr/sbin/nologin`,
      `site-b:x:992:992::${HOME}b:/usr/sbin/nologin`,
      "root:x:0:0:root:/root:/bin/bash",
    ]);
    await host.write();
    expect(await removeSiteUsers(HOME, host.deps)).toEqual(["site-a", "site-a2"]);
    expect(runs).toEqual([userdelArgv("site-a"), userdelArgv("site-a2")]);
    runs = [];
    expect(await removeSiteUsers("/srv/caddis/sites/site_none", host.deps)).toEqual([]);
    expect(runs).toEqual([]);
  });
});

describe("with the host's real user tools", () => {
  if (!AS_ROOT) console.warn("skip: creating users and acting as them needs root");

  test.skipIf(!AS_ROOT)("useradd and userdel a throwaway site user", async () => {
    const name = `caddis-t${crypto.randomUUID().slice(0, 8)}`;
    const home = join(dir, "site_t");
    try {
      const identity = await ensureSiteUser(name, home);
      expect(identity.home).toBe(home);
      expect(identity.uid).toBeGreaterThan(0);
      const entry = (await readFile("/etc/passwd", "utf8")).split("\n")
        .find((line) => line.startsWith(`${name}:`));
      expect(entry?.split(":").slice(5)).toEqual([home, "/usr/sbin/nologin"]);
      expect(await stat(home).catch(() => null)).toBeNull(); // --no-create-home
      expect(await ensureSiteUser(name, home)).toEqual(identity);
      expect(await removeSiteUsers(home)).toEqual([name]);
      expect(await lookupUser(name)).toBeNull();
    } finally {
      if (await lookupUser(name)) await removeSiteUsers(home);
    }
  });

  test.skipIf(!AS_ROOT)("makeDirAs creates as the user, and only where the user may", async () => {
    const nobody = await lookupUser("nobody");
    if (!nobody) throw new Error("this host has no nobody user in /etc/passwd");
    await chmod(dir, 0o711); // traversable, as the sites directory is
    const theirs = join(dir, "theirs");
    await mkdir(theirs, { mode: 0o755 });
    await chown(theirs, nobody.uid, nobody.gid);
    await makeDirAs(join(theirs, "a", "public"), nobody);
    const made = await stat(join(theirs, "a", "public"));
    expect([made.uid, made.mode & 0o777]).toEqual([nobody.uid, 0o750]);
    const rootOwned = join(dir, "root-owned");
    await mkdir(rootOwned, { mode: 0o755 });
    await expect(makeDirAs(join(rootOwned, "public"), nobody)).rejects.toThrow(
      `Cannot create ${join(rootOwned, "public")} as the site's user:`,
    );
    expect(await stat(join(rootOwned, "public")).catch(() => null)).toBeNull();
  });
});
