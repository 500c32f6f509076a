// Where a benchmark's CPU time went, read from Linux's /proc: the API process, the PostgreSQL
// server's processes, and the whole machine. Every process of a run shares the same cores, so
// how busy the machine was explains latency percentiles as much as any single process does.
import { readdir, readFile } from "node:fs/promises";

/** CPU times in milliseconds at one moment. */
export interface CpuSnapshot {
  api: number;
  postgres: number;
  machineBusy: number;
  machineTotal: number;
}

// Clock ticks per second for /proc times; 100 on every Linux this runs on (USER_HZ).
const TICK_MS = 10;

// utime + stime of a /proc/<pid>/stat line, in ms. The name field may hold spaces and parentheses.
function processMs(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

async function postgresMs(): Promise<number> {
  let total = 0;
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    // A process may end between the listing and the read.
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    if (stat.includes("(postgres)")) total += processMs(stat);
  }
  return total;
}

/** Reads the CPU times of process `apiPid`, of every `postgres` process, and of the machine. */
export async function cpuSnapshot(apiPid: number): Promise<CpuSnapshot> {
  const [api, postgres, machine] = await Promise.all([
    readFile(`/proc/${apiPid}/stat`, "utf8").then(processMs),
    postgresMs(),
    readFile("/proc/stat", "utf8"),
  ]);
  // The first line: user nice system idle iowait irq softirq steal …, in ticks.
  const ticks = (machine.split("\n")[0] ?? "").trim().split(/\s+/).slice(1).map(Number);
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  const total = ticks.reduce((sum, n) => sum + n, 0);
  return { api, postgres, machineBusy: (total - idle) * TICK_MS, machineTotal: total * TICK_MS };
}

/** CPU milliseconds per unit of work between two snapshots, and how busy the machine was. */
export function cpuPer(before: CpuSnapshot, after: CpuSnapshot, units: number) {
  const per = (ms: number) => (units > 0 ? ms / units : 0);
  const machineMs = after.machineBusy - before.machineBusy;
  return {
    apiMs: per(after.api - before.api),
    postgresMs: per(after.postgres - before.postgres),
    machineMs: per(machineMs),
    busyPercent: (100 * machineMs) / Math.max(1, after.machineTotal - before.machineTotal),
  };
}
