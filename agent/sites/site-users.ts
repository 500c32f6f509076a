// Site users in system mode: one system user per site, created by the agent with the site's root
// as its home, which is how the agent later knows a user is its own. A user that already exists
// with another home belongs to someone else and is never used, changed or deleted.
import { readFile } from "node:fs/promises";
import { SITE_USER_PATTERN } from "../protocol/sites.ts";
import {
  DEFAULT_PATH,
  runCommand,
  type RunOptions,
  type RunResult,
  startProcess,
} from "../exec.ts";
import { findPasswdEntry, type SiteIdentity } from "../workers/site-user.ts";

/** What the user functions need from the host; tests replace them. */
export interface SiteUserDeps {
  run?: (argv: string[], options: RunOptions) => Promise<RunResult>;
  /** The passwd file to read; /etc/passwd by default. */
  passwdPath?: string;
}

const USER_TOOL_TIMEOUT_MS = 30_000;
const MKDIR_TIMEOUT_MS = 30_000;

/** The command that creates site user `user` with home `home` (the site's root, not created). */
export function useraddArgv(user: string, home: string): string[] {
  checkName(user);
  return [
    "useradd",
    "--system",
    "--no-create-home",
    "--home-dir",
    home,
    "--shell",
    "/usr/sbin/nologin",
    user,
  ];
}

/** The command that deletes site user `user` (its files are handled separately). */
export function userdelArgv(user: string): string[] {
  checkName(user);
  return ["userdel", user];
}

/** The site's user, created when missing; throws when the name belongs to someone else. */
export async function ensureSiteUser(
  user: string,
  home: string,
  deps: SiteUserDeps = {},
): Promise<SiteIdentity> {
  const found = await lookup(user, deps);
  if (found) return ours(user, home, found);
  await runTool(useraddArgv(user, home), deps);
  const created = await lookup(user, deps);
  if (!created) throw new Error(`useradd succeeded but user ${user} is not in the user database`);
  return ours(user, home, created);
}

/**
 * Deletes every user whose home is `home` (a removed site's root), and so only users the agent
 * created for that site; returns their names. Nothing to delete is not an error.
 */
export async function removeSiteUsers(home: string, deps: SiteUserDeps = {}): Promise<string[]> {
  const passwd = await readFile(deps.passwdPath ?? "/etc/passwd", "utf8");
  const names = passwd.split("\n").map((line) => line.split(":"))
    .filter((fields) => fields[5] === home && SITE_USER_PATTERN.test(fields[0] ?? ""))
    .map((fields) => fields[0]!);
  for (const name of names) await runTool(userdelArgv(name), deps);
  return names;
}

/**
 * Creates directory `path` and its missing parents as the site's user, so the kernel checks
 * every step with that user's rights: a link the user planted can only lead where they may write.
 */
export async function makeDirAs(path: string, identity: SiteIdentity): Promise<void> {
  const proc = startProcess(["mkdir", "-p", "-m", "750", "--", path], {
    cwd: "/",
    env: { PATH: DEFAULT_PATH },
    uid: identity.uid,
    gid: identity.gid,
  });
  const timer = setTimeout(() => void proc.stop(1_000), MKDIR_TIMEOUT_MS);
  const exit = await proc.exited.finally(() => clearTimeout(timer));
  if (exit.exitCode !== 0) {
    const why = proc.tail().stderr.filter((line) => line.trim() !== "").at(-1) ?? "no message";
    throw new Error(`Cannot create ${path} as the site's user: ${why}`);
  }
}

function checkName(user: string): void {
  if (!SITE_USER_PATTERN.test(user)) {
    throw new Error(`Invalid site user name ${JSON.stringify(user.slice(0, 40))}`);
  }
}

async function lookup(user: string, deps: SiteUserDeps): Promise<SiteIdentity | null> {
  checkName(user);
  return findPasswdEntry(await readFile(deps.passwdPath ?? "/etc/passwd", "utf8"), user);
}

function ours(user: string, home: string, identity: SiteIdentity): SiteIdentity {
  if (identity.home !== home || identity.uid === 0) {
    throw new Error(
      `User ${user} already exists and is not this site's (its home is ${identity.home}, ` +
        `not ${home}); choose another user name for the site`,
    );
  }
  return identity;
}

async function runTool(argv: string[], deps: SiteUserDeps): Promise<void> {
  const result = await (deps.run ?? runCommand)(argv, {
    timeoutMs: USER_TOOL_TIMEOUT_MS,
    maxOutputBytes: 16 * 1024,
    env: { PATH: DEFAULT_PATH },
  });
  if (result.error !== null || result.exitCode !== 0) {
    const why = result.error ?? (result.stderr.trim().split("\n").at(-1) ||
      `exit code ${result.exitCode}`);
    throw new Error(`${argv[0]} ${argv.at(-1)} failed: ${why}`);
  }
}
