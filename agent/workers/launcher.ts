// Turns a site and a port into a started worker process: the command line and environment from
// worker-command.ts, the site's own user when the agent is root, and a private temp directory.
import type { DesiredSite } from "../protocol/sites.ts";
import { type ProcessHandle, startProcess } from "../exec.ts";
import { ensureOwnedDir } from "./owned-dir.ts";
import { lookupUser, type SiteIdentity } from "./site-user.ts";
import { type RuntimeBinaries, workerArgv, workerEnv } from "./worker-command.ts";
import { forgetWorker, recordWorker } from "./worker-pids.ts";

/** Where workers run and as whom. */
export interface LauncherOptions {
  binaries: RuntimeBinaries;
  /** The absolute directory of the site's current release. */
  releaseDir(site: DesiredSite): string;
  /** The site's private temp directory (its parent must exist); made 0700 for its user. */
  tmpDir(site: DesiredSite): string;
  /** True when the agent is root: each worker then runs as its site's user, which must exist. */
  asSiteUser: boolean;
  /** Where running workers' pids are noted, for the next agent to stop if this one dies hard. */
  pidDir?: string;
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
    // Mode 0700 and owned by the site's user, so no other site can read or plant files in it.
    const tmpDir = options.tmpDir(site);
    await ensureOwnedDir(tmpDir, 0o700, identity);
    const env = workerEnv(site, { releaseDir, home: identity?.home ?? tmpDir, tmpDir });
    const handle = startProcess(argv, {
      cwd: releaseDir,
      env,
      uid: identity?.uid,
      gid: identity?.gid,
    });
    const { pidDir } = options;
    if (pidDir !== undefined) {
      const worker = { siteId: site.id, port, pid: handle.pid };
      await recordWorker(pidDir, worker);
      void handle.exited.then(() => forgetWorker(pidDir, worker));
    }
    return handle;
  };
}
