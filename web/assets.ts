import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Where `/static/*` files live on disk. Absolute, derived from this module's URL, so Bun's and
 * Deno's serveStatic find the files whatever the working directory is. (`.href`: Deno's global
 * URL type and node:url's, as bun-types declares it, disagree, while a string suits both.)
 */
export const STATIC_ROOT: string = fileURLToPath(new URL("./static/", import.meta.url).href);

/**
 * The files the layout references, relative to {@link STATIC_ROOT}. The htmx file is
 * `node_modules/htmx.org/dist/htmx.min.js` from the `htmx.org` npm package, copied byte for byte;
 * to upgrade, copy the new version under its new name and update the package.json pin with it.
 */
const ASSET_FILES = [
  "app.css",
  "copy.js",
  "favicon.svg",
  "session.js",
  "vendor/htmx-2.0.11.min.js",
] as const;

/** A static file the layout may link to. */
export type AssetName = (typeof ASSET_FILES)[number];

/** Hex characters of the SHA-256 kept in `?v=`: enough to tell versions apart, short in HTML. */
const VERSION_LENGTH = 12;

async function contentVersion(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const hex = Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return hex.slice(0, VERSION_LENGTH);
}

/** Content versions of the layout's static files, computed once when the app starts. */
export interface AssetManifest {
  /** The cache-busting URL of `name`, e.g. `/static/app.css?v=0123456789ab`. */
  url(name: AssetName): string;
  /** Whether `version` is the current content version of the file at `relativePath`. */
  isCurrent(relativePath: string, version: string | undefined): boolean;
}

/** Reads and hashes every referenced file; a missing file fails startup loudly. */
async function loadAssetManifest(): Promise<AssetManifest> {
  const versions = new Map<string, string>();
  for (const name of ASSET_FILES) {
    versions.set(name, await contentVersion(new Uint8Array(readFileSync(join(STATIC_ROOT, name)))));
  }
  return {
    url: (name) => `/static/${name}?v=${versions.get(name)}`,
    isCurrent: (relativePath, version) =>
      version !== undefined && versions.get(relativePath) === version,
  };
}

/** The running app's manifest; the files ship with the code, so hashing them once is enough. */
export const assets: AssetManifest = await loadAssetManifest();
