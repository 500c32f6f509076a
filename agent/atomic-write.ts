// Replacing a file so that a crash at any moment leaves either the old or the new content, never
// a mix: write a temporary file beside it, fsync, rename over, fsync the directory.
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** Writes `text` to `path` atomically and durably, with file mode `mode`. */
export async function writeFileAtomic(path: string, text: string, mode: number): Promise<void> {
  const suffix = crypto.getRandomValues(new Uint32Array(1))[0]!.toString(16);
  const temp = join(dirname(path), `.${basename(path)}.${suffix}.tmp`);
  const file = await open(temp, "wx", mode);
  try {
    await file.chmod(mode); // the umask may have narrowed or widened what `open` asked for
    await file.writeFile(text, "utf8");
    await file.sync();
  } catch (err) {
    await file.close();
    await rm(temp, { force: true });
    throw err;
  }
  await file.close();
  try {
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  await syncDirectory(dirname(path));
}

/** Fsyncs a directory so a rename or a new file in it survives a power cut. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
