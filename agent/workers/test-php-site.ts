// Test-only: a php-cli site in a temp directory, and a launcher for it. Nothing here runs in the
// agent itself.
import { chmod, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { DesiredSite } from "../protocol/sites.ts";
import { tempDir } from "../test-fixtures.ts";
import { createWorkerLauncher, type LaunchWorker } from "./launcher.ts";
import type { SiteIdentity } from "./site-user.ts";

/** A PHP site's files on disk and how to launch its workers. */
export interface PhpSite {
  site: DesiredSite;
  releaseDir: string;
  launch: LaunchWorker;
  remove(): Promise<void>;
}

/** An index.php that waits a few milliseconds, so requests are in flight during a swap. */
export const SLOW_INDEX = `<?php usleep(3000); echo "ok ", getmypid(), " ", getenv("APP_SECRET");`;

/** Writes `files` into a fresh release readable by any user and returns a php-cli site. */
export async function createPhpSite(
  options: {
    id?: string;
    port?: number;
    files?: Record<string, string>;
    overrides?: Partial<DesiredSite>;
    /** Run workers as this user (needs root). */
    identity?: SiteIdentity;
  } = {},
): Promise<PhpSite> {
  const { dir, remove } = await tempDir("php-site");
  // Readable and traversable by an unprivileged site user.
  await chmod(dir, 0o711);
  const releaseDir = join(dir, "release");
  const tmpRoot = join(dir, "tmp");
  await Bun.write(join(releaseDir, ".keep"), "");
  await chmod(releaseDir, 0o755);
  for (const [name, text] of Object.entries(options.files ?? { "index.php": SLOW_INDEX })) {
    await writeFile(join(releaseDir, name), text, { mode: 0o644 });
  }
  await Bun.write(join(tmpRoot, ".keep"), "");
  await chmod(tmpRoot, 0o711);
  const site: DesiredSite = {
    id: options.id ?? "site_php",
    domains: ["php.example.com"],
    runtime: "php-cli",
    docroot: "",
    workerScript: null,
    port: options.port ?? 0,
    user: options.identity ? "nobody" : "caddis",
    env: {},
    enabled: true,
    ...options.overrides,
  };
  const launch = createWorkerLauncher({
    binaries: { "php-cli": "/usr/bin/php" },
    releaseDir: () => releaseDir,
    tmpDir: (site) => join(tmpRoot, site.id),
    asSiteUser: options.identity !== undefined,
    lookupUser: () => Promise.resolve(options.identity ?? null),
  });
  return { site, releaseDir, launch, remove };
}
