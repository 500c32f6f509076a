// Memory and limits of a benchmark's server process, read from Linux's /proc.
import { readFile } from "node:fs/promises";

/** The resident set size of process `pid` in MiB (VmRSS of /proc/<pid>/status). */
export async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!match?.[1]) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) / 1024;
}

/** The soft limit on open files of process `pid` (/proc/<pid>/limits), or null if unlimited. */
export async function openFilesLimit(pid: number): Promise<number | null> {
  const limits = await readFile(`/proc/${pid}/limits`, "utf8");
  const match = /^Max open files\s+(\S+)/m.exec(limits);
  return match?.[1] && match[1] !== "unlimited" ? Number(match[1]) : null;
}

/** Samples the RSS of `pid` every `intervalMs` until `stop()`, which returns the highest seen. */
export function watchPeakRss(pid: number, intervalMs = 100): { stop(): Promise<number> } {
  let peak = 0;
  let sampling: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    sampling = rssMiB(pid).then((mib) => void (peak = Math.max(peak, mib)), () => {});
  }, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await sampling;
      peak = Math.max(peak, await rssMiB(pid));
      return peak;
    },
  };
}
