// Where a host keeps its sites' files, and the directories a site needs before its worker starts.
// Each site lives in `<sitesDir>/<id>/`: `current/` (the release its docroot is in; a later deploy
// turns it into a symbolic link to a release), `logs/` and `tmp/` (the worker's private TMPDIR).
import { lstat, mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { AgentMode } from "../protocol/host-report.ts";
import { DesiredSite, RELATIVE_PATH_PATTERN } from "../protocol/sites.ts";
import { type DirOwner, ensureOwnedDir } from "../workers/owned-dir.ts";

/** Where sites live in system mode: `/srv/caddis/sites/` and `/srv/caddis/trash/`. */
export const SYSTEM_SITES_BASE = "/srv/caddis";

/** The host's two site directories. */
export interface SitePlaces {
  /** Each site's files are in `<sitesDir>/<id>/`. */
  sitesDir: string;
  /** Removed sites' files, kept for a week. */
  trashDir: string;
}

/** One site's directories, all absolute. */
export interface SiteLayout {
  root: string;
  current: string;
  docroot: string;
  logs: string;
  tmp: string;
}

/** The places for `mode`: under /srv/caddis as root, under the state dir in sandbox mode. */
export function sitePlaces(mode: AgentMode, stateDir: string, base?: string): SitePlaces {
  const under = base ?? (mode === "system" ? SYSTEM_SITES_BASE : stateDir);
  return { sitesDir: join(under, "sites"), trashDir: join(under, "trash") };
}

/** The directory of site `id`; throws for an id that could name anything but a child. */
export function siteRoot(sitesDir: string, id: string): string {
  if (!DesiredSite.shape.id.safeParse(id).success) {
    throw new Error(`Invalid site id ${JSON.stringify(id.slice(0, 80))}`);
  }
  return join(sitesDir, id);
}

/** The directories of `site`; its docroot is checked again, as it becomes a path here. */
export function siteLayout(
  sitesDir: string,
  site: Pick<DesiredSite, "id" | "docroot">,
): SiteLayout {
  const root = siteRoot(sitesDir, site.id);
  if (!RELATIVE_PATH_PATTERN.test(site.docroot)) {
    throw new Error(`Site ${site.id} has an invalid docroot ${JSON.stringify(site.docroot)}`);
  }
  const current = join(root, "current");
  return {
    root,
    current,
    docroot: join(current, site.docroot),
    logs: join(root, "logs"),
    tmp: join(root, "tmp"),
  };
}

/** Creates the host's site and trash directories; only the agent may enter the trash. */
export async function preparePlaces(places: SitePlaces): Promise<void> {
  await mkdir(places.sitesDir, { recursive: true });
  await ensureOwnedDir(places.sitesDir, 0o755, null);
  await mkdir(places.trashDir, { recursive: true });
  await ensureOwnedDir(places.trashDir, 0o700, null);
}

/**
 * Makes the site's directories, mode 0750 and owned by `owner` (its user, in system mode). The
 * root is in the agent's own directory; inside it the site's user could swap any entry for a link,
 * so each is set through a descriptor that follows none. The docroot lies in `current`, which may
 * be a link to a release: `makeDocroot` creates it there (as the site's user, in system mode).
 */
export async function prepareSiteDirs(
  layout: SiteLayout,
  owner: DirOwner | null,
  makeDocroot: (path: string) => Promise<unknown>,
): Promise<void> {
  await ensureOwnedDir(layout.root, 0o750, owner);
  await ensureOwnedDir(layout.logs, 0o750, owner);
  const current = await lstat(layout.current).catch(() => null);
  // A link is a deploy's release; never replaced or touched here.
  if (!current?.isSymbolicLink()) await ensureOwnedDir(layout.current, 0o750, owner);
  if (layout.docroot !== layout.current) await makeDocroot(layout.docroot);
}
