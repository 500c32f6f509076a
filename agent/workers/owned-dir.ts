// A directory that belongs to a site's user, made safely even inside a directory that user owns:
// owner and mode are set through a descriptor opened without following links, so a user who swaps
// the directory for a symbolic link cannot make the agent (root) chown or chmod another file.
import { constants } from "node:fs";
import { type FileHandle, mkdir, open } from "node:fs/promises";

/** Who owns a directory: a uid and gid. */
export interface DirOwner {
  uid: number;
  gid: number;
}

const NO_FOLLOW_DIR = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

/**
 * Creates `path` (its parent must exist) unless it is there, then gives it `mode` and, when given,
 * `owner`. Throws when `path` is a symbolic link or not a directory.
 */
export async function ensureOwnedDir(
  path: string,
  mode: number,
  owner: DirOwner | null,
): Promise<void> {
  await mkdir(path, { mode }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "EEXIST") throw err;
  });
  let handle: FileHandle;
  try {
    handle = await open(path, NO_FOLLOW_DIR);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOTDIR" || code === "ELOOP") {
      throw new Error(`${path} must be a directory, not a symbolic link or a file`);
    }
    throw err;
  }
  try {
    if (owner) await handle.chown(owner.uid, owner.gid);
    await handle.chmod(mode); // the umask may have narrowed what mkdir asked for
  } finally {
    await handle.close();
  }
}
