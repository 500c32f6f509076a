// Which of the tools Caddis drives are installed, and which versions. Found by walking PATH
// ourselves (no `which` process), versions read through exec.ts, all tools probed in parallel.
import { stat } from "node:fs/promises";
import { delimiter, isAbsolute, join } from "node:path";
import {
  TOOL_NAMES,
  type ToolInventory,
  type ToolName,
  type ToolReport,
} from "./protocol/host-report.ts";
import { DEFAULT_PATH, runCommand } from "./exec.ts";

/** The arguments that make each tool print its version. */
export const VERSION_ARGS: Record<ToolName, string[]> = {
  caddy: ["version"],
  nft: ["--version"],
  php: ["--version"],
  frankenphp: ["version"],
  git: ["--version"],
  pg_dump: ["--version"],
  mysqldump: ["--version"],
  restic: ["version"],
};

/** How long one version command may take before the tool is reported without a version. */
export const VERSION_TIMEOUT_MS = 5_000;
const MAX_VERSION_CHARS = 255;

/** The first executable regular file called `name` in the directories of `searchPath`. */
export async function findOnPath(name: string, searchPath: string): Promise<string | null> {
  if (name.includes("/")) return null;
  for (const dir of searchPath.split(delimiter)) {
    if (!dir || !isAbsolute(dir)) continue; // a relative PATH entry would depend on our cwd
    const candidate = join(dir, name);
    try {
      const info = await stat(candidate);
      if (info.isFile() && (info.mode & 0o111) !== 0) return candidate;
    } catch {
      // not in this directory
    }
  }
  return null;
}

/** Reports one tool: whether it is on `searchPath`, where, and the first line of its version. */
export async function inspectTool(
  name: string,
  versionArgs: string[],
  searchPath: string,
  timeoutMs = VERSION_TIMEOUT_MS,
): Promise<ToolReport> {
  const path = await findOnPath(name, searchPath);
  if (!path) return { present: false, path: null, version: null };
  const run = await runCommand([path, ...versionArgs], {
    timeoutMs,
    maxOutputBytes: 4096,
    env: { PATH: searchPath, LC_ALL: "C" },
  });
  if (run.exitCode !== 0) return { present: true, path, version: null };
  // Some tools print their version on stderr.
  const text = run.stdout.trim() ? run.stdout : run.stderr;
  const first = text.trim().split("\n")[0]?.trim() ?? "";
  return { present: true, path, version: first ? first.slice(0, MAX_VERSION_CHARS) : null };
}

/** Probes every tool in TOOL_NAMES in parallel. */
export async function collectInventory(
  searchPath: string = DEFAULT_PATH,
  timeoutMs = VERSION_TIMEOUT_MS,
): Promise<ToolInventory> {
  const reports = await Promise.all(
    TOOL_NAMES.map((name) => inspectTool(name, VERSION_ARGS[name], searchPath, timeoutMs)),
  );
  return Object.fromEntries(TOOL_NAMES.map((name, i) => [name, reports[i]!])) as ToolInventory;
}
