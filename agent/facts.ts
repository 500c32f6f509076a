// Stable facts about the host, sent in `hello` and refreshed by `host.diagnose`.
import { readFile, statfs } from "node:fs/promises";
import os from "node:os";
import type { HostFacts } from "./protocol/host-report.ts";

/** Reads `/etc/os-release`'s pretty name, falling back to NAME and VERSION. */
export function parseOsRelease(text: string): string | null {
  const values = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!match) continue;
    values.set(match[1]!, unquote(match[2]!));
  }
  const pretty = values.get("PRETTY_NAME");
  if (pretty) return pretty;
  const name = values.get("NAME");
  if (!name) return null;
  const version = values.get("VERSION");
  return version ? `${name} ${version}` : name;
}

/** Total and free bytes of the filesystem holding `path`; free counts what non-root can use. */
export async function diskUsage(path: string): Promise<{ totalBytes: number; freeBytes: number }> {
  const fs = await statfs(path);
  return { totalBytes: fs.blocks * fs.bsize, freeBytes: fs.bavail * fs.bsize };
}

/** Collects the host's facts; `diskPath` is the agent directory, whose filesystem is reported. */
export async function collectFacts(
  diskPath: string,
  osReleasePath = "/etc/os-release",
): Promise<HostFacts> {
  const release = await readFile(osReleasePath, "utf8").then(parseOsRelease, () => null);
  const cpus = os.cpus();
  return {
    hostname: os.hostname().slice(0, 255),
    os: (release ?? `${os.type()} ${os.release()}`).slice(0, 255),
    kernel: `${os.type()} ${os.release()}`.slice(0, 255),
    arch: os.arch().slice(0, 64),
    cpuModel: (cpus[0]?.model.trim() || "unknown").slice(0, 255),
    cpuCount: Math.min(4096, Math.max(1, cpus.length)),
    memoryBytes: os.totalmem(),
    disk: { path: diskPath.slice(0, 4096), ...(await diskUsage(diskPath)) },
  };
}

// os-release values are shell-quoted: "…" or '…', with backslash escapes inside double quotes.
function unquote(value: string): string {
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    return value.slice(1, -1).replace(/\\(["\\$`])/g, "$1");
  }
  if (value.length >= 2 && value.startsWith("'") && value.endsWith("'")) return value.slice(1, -1);
  return value;
}
