// Turns a site and a port into a started worker process: the command line and environment from
// worker-command.ts, the site's own user when the agent is root, and a private temp directory.
import { chmod, chown, lstat, mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { DesiredSite } from "../protocol/sites.ts";
import { type ProcessHandle, startProcess } from "../exec.ts";
import { lookupUser, type SiteIdentity } from "./site-user.ts";
import { type RuntimeBinaries, workerArgv, workerEnv } from "./worker-command.ts";

/** Where workers run and as whom. */
export interface LauncherOptions {
  binaries: RuntimeBinaries;
  /** The absolute directory of the site's current release. */
  releaseDir(site: DesiredSite): string;
  /** An agent-owned directory; each site's temp directory is made inside it. */
  tmpRoot: string;
  /** True when the agent is root: each worker then runs as its site's user, which must exist. */
  asSiteUser: boolean;
  lookupUser?(name: string): Promise<SiteIdentity | null>;
}

/** Starts one worker for `site` on 127.0.0.1:`port`. */
export type LaunchWorker = (site: DesiredSite, port: number) => Promise<ProcessHandle>;

/** A launcher bound to this host's binaries and directories. */
export function createWorkerLauncher(options: LauncherOptions): LaunchWorker {
  const lookup = options.lookupUser ?? lookupUser;
  return async (site, port) => {
    const releaseDir = options.releaseDir(site);
    const argv = workerArgv(site, port, options.binaries, releaseDir);
    const identity = options.asSiteUser ? await lookup(site.user) : null;
    if (options.asSiteUser && !identity) {
      throw new Error(`Cannot start site ${site.id}: its user ${site.user} does not exist`);
    }
    if (identity?.uid === 0) {
      throw new Error(`Cannot start site ${site.id}: its user ${site.user} is root`);
    }
    const tmpDir = await privateTmpDir(join(options.tmpRoot, site.id), identity);
    const env = workerEnv(site, { releaseDir, home: identity?.home ?? tmpDir, tmpDir });
    return startProcess(argv, { cwd: releaseDir, env, uid: identity?.uid, gid: identity?.gid });
  };
}

// Mode 0700 and owned by the site's user, so no other site can read or plant files in it.
async function privateTmpDir(dir: string, owner: SiteIdentity | null): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if ((await lstat(dir)).isSymbolicLink()) throw new Error(`${dir} must not be a symbolic link`);
  if (owner) await chown(dir, owner.uid, owner.gid);
  await chmod(dir, 0o700);
  return dir;
}
