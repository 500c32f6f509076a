// A removed site's files: moved to the host's trash as `<id>-<UTC time>`, or deleted at once when
// the user asked for a purge; the trash is swept of entries older than a week. The age comes from
// the entry's name, since a rename keeps the directory's old modification time.
import { lstat, readdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Log } from "../log.ts";
import { siteRoot } from "./site-paths.ts";

/** How long a removed site's files are kept. */
export const TRASH_KEEP_MS = 7 * 24 * 3_600_000;
/** How often the trash is swept while the agent runs. */
export const TRASH_SWEEP_INTERVAL_MS = 3_600_000;

/** `site_x-20250102T030405.678Z`: the id, then the removal time in compact UTC ISO 8601. */
const ENTRY = /^(site_[A-Za-z0-9]{1,60})-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z$/;

/** The trash entry name for site `id` removed at `at`. */
export function trashEntryName(id: string, at: Date): string {
  return `${id}-${at.toISOString().replaceAll("-", "").replaceAll(":", "")}`;
}

/** When the entry called `name` was trashed, or null for a name the agent did not make. */
export function trashedAt(name: string): Date | null {
  const match = ENTRY.exec(name);
  if (!match) return null;
  const [, , year, month, day, hour, minute, second, ms] = match.map(Number) as number[];
  const at = new Date(Date.UTC(year!, month! - 1, day!, hour, minute, second, ms));
  return trashEntryName(match[1]!, at) === name ? at : null;
}

/** What became of a removed site's files. */
export type DiscardResult = { trashedTo: string } | { purged: true } | { absent: true };

/** Moves site `id`'s directory into the trash, or deletes it when `purge`; absent is fine. */
export async function discardSiteFiles(
  places: { sitesDir: string; trashDir: string },
  id: string,
  purge: boolean,
  now: Date,
): Promise<DiscardResult> {
  const root = siteRoot(places.sitesDir, id);
  const found = await lstat(root).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return null;
    throw err;
  });
  if (!found) return { absent: true };
  if (purge) {
    await rm(root, { recursive: true, force: true });
    return { purged: true };
  }
  const target = join(places.trashDir, trashEntryName(id, now));
  await rename(root, target);
  return { trashedTo: target };
}

/** Deletes the trash entries older than `keepMs` at `now`; returns the names deleted. */
export async function sweepTrash(
  trashDir: string,
  now: Date,
  keepMs = TRASH_KEEP_MS,
): Promise<string[]> {
  const names = await readdir(trashDir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return [];
    throw err;
  });
  const expired = names.filter((name) => {
    const at = trashedAt(name);
    return at !== null && now.getTime() - at.getTime() >= keepMs;
  });
  for (const name of expired) await rm(join(trashDir, name), { recursive: true, force: true });
  return expired;
}

/** Sweeps now and then every `intervalMs` until stopped. */
export function startTrashSweeper(options: {
  trashDir: string;
  now: () => Date;
  log: Log;
  intervalMs?: number;
}): { stop(): void } {
  const sweep = () => {
    sweepTrash(options.trashDir, options.now()).then(
      (deleted) => {
        if (deleted.length > 0) options.log.info("swept the site trash", { deleted });
      },
      (err) => options.log.warn("sweeping the site trash failed", { error: String(err) }),
    );
  };
  sweep();
  const timer = setInterval(sweep, options.intervalMs ?? TRASH_SWEEP_INTERVAL_MS);
  return { stop: () => clearInterval(timer) };
}
