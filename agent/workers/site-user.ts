// The system identity a site's worker runs as, read from /etc/passwd (no `id` process).
import { readFile } from "node:fs/promises";

/** A user's ids and home directory. */
export interface SiteIdentity {
  uid: number;
  gid: number;
  home: string;
}

/** The entry for `name` in passwd-format text, or null when there is none. */
export function findPasswdEntry(passwd: string, name: string): SiteIdentity | null {
  for (const line of passwd.split("\n")) {
    const [user, , uid, gid, , home] = line.split(":");
    if (user !== name || uid === undefined || gid === undefined || home === undefined) continue;
    if (!/^\d+$/.test(uid) || !/^\d+$/.test(gid)) return null;
    return { uid: Number(uid), gid: Number(gid), home };
  }
  return null;
}

/** Looks `name` up in the host's user database. */
export async function lookupUser(name: string, path = "/etc/passwd"): Promise<SiteIdentity | null> {
  return findPasswdEntry(await readFile(path, "utf8"), name);
}
