// Checks a rendered Caddyfile with `caddy adapt` before anything uses it, so a config Caddy
// cannot parse never reaches the file Caddy starts from or the running server.
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../atomic-write.ts";
import { DEFAULT_PATH, runCommand } from "../exec.ts";

/** What `checkCaddyfile` needs: the caddy binary and a private directory for its input file. */
export interface CaddyCheckOptions {
  caddyPath: string;
  /** A 0700 directory the agent owns; the file under check lives here only while checked. */
  tempDir: string;
}

/** Caddy's JSON for an accepted Caddyfile, or Caddy's own explanation of why it is refused. */
export type CaddyCheckResult = { ok: true; json: string } | { ok: false; error: string };

/** Error messages are cut here: enough for Caddy's explanation, never a whole config. */
export const MAX_CADDY_ERROR_CHARS = 2000;
const CHECK_TIMEOUT_MS = 60_000;
// The adapted JSON of 10,000 sites is tens of megabytes; anything near this is not a config.
const MAX_JSON_BYTES = 256 * 1024 * 1024;

/** Runs `caddy adapt` on `text`; never throws for a refused config. */
export async function checkCaddyfile(
  text: string,
  options: CaddyCheckOptions,
): Promise<CaddyCheckResult> {
  const suffix = crypto.getRandomValues(new Uint32Array(1))[0]!.toString(16);
  const file = join(options.tempDir, `Caddyfile.check-${suffix}`);
  await writeFileAtomic(file, text, 0o600);
  try {
    const result = await runCommand(
      [options.caddyPath, "adapt", "--config", file, "--adapter", "caddyfile"],
      {
        timeoutMs: CHECK_TIMEOUT_MS,
        maxOutputBytes: MAX_JSON_BYTES,
        cwd: options.tempDir,
        // Caddy looks for a home to keep state in; keep it inside the agent's directory.
        env: { PATH: DEFAULT_PATH, HOME: options.tempDir },
      },
    );
    if (result.error !== null) return { ok: false, error: result.error };
    if (result.exitCode !== 0) {
      return { ok: false, error: caddyError(result.stderr, file) };
    }
    if (result.truncated) {
      return { ok: false, error: `caddy adapt wrote more than ${MAX_JSON_BYTES} bytes` };
    }
    return { ok: true, json: result.stdout.trim() };
  } finally {
    await rm(file, { force: true });
  }
}

/**
 * Caddy's reason, from the `Error:` lines of its stderr (the rest is JSON log noise), with the
 * temporary file's name replaced by "Caddyfile" so line references read naturally.
 */
function caddyError(stderr: string, file: string): string {
  const lines = stderr.split("\n").map((line) => line.trim());
  const errors = lines.filter((line) => line.startsWith("Error:"));
  const chosen = errors.length > 0
    ? errors.map((line) => line.slice("Error:".length).trim()).join("\n")
    : lines.filter((line) => line !== "").at(-1) ?? "caddy adapt failed without a message";
  return chosen.replaceAll(file, "Caddyfile").slice(0, MAX_CADDY_ERROR_CHARS);
}
