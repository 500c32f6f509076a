// Usage samples every TIMING.metricsMs: CPU from the deltas of os.cpus() times between two
// samples, load averages, memory, and the disk holding the agent directory.
import os from "node:os";
import { statfs } from "node:fs/promises";
import type { MetricsSample } from "./protocol/host-report.ts";

/** Summed CPU times across all cores, in milliseconds. */
export interface CpuTimes {
  busy: number;
  total: number;
}

/** Sums the per-core times os.cpus() reports. */
export function cpuTimes(cpus: os.CpuInfo[]): CpuTimes {
  let busy = 0;
  let total = 0;
  for (const { times } of cpus) {
    const all = times.user + times.nice + times.sys + times.idle + times.irq;
    total += all;
    busy += all - times.idle;
  }
  return { busy, total };
}

/** Busy share of CPU time between two readings, 0–100; 0 when no time passed. */
export function cpuPercent(previous: CpuTimes, current: CpuTimes): number {
  const total = current.total - previous.total;
  if (total <= 0) return 0;
  const percent = ((current.busy - previous.busy) / total) * 100;
  return Math.min(100, Math.max(0, Math.round(percent * 10) / 10));
}

/** Where a sampler reads the machine; tests replace parts of it. */
export interface MetricsSource {
  cpus(): os.CpuInfo[];
  loadavg(): number[];
  totalmem(): number;
  freemem(): number;
  disk(path: string): Promise<{ totalBytes: number; freeBytes: number }>;
}

const systemSource: MetricsSource = {
  cpus: () => os.cpus(),
  loadavg: () => os.loadavg(),
  totalmem: () => os.totalmem(),
  freemem: () => os.freemem(),
  async disk(path) {
    const fs = await statfs(path);
    // As df counts: blocks reserved for root are neither usable nor used, so the size is used +
    // available, and a disk df shows 90% full is 90% full here (the disk alert's threshold).
    const usedBlocks = fs.blocks - fs.bfree;
    return { totalBytes: (usedBlocks + fs.bavail) * fs.bsize, freeBytes: fs.bavail * fs.bsize };
  },
};

/** Takes samples; each one's CPU figure covers the time since the previous one. */
export function createMetricsSampler(options: {
  diskPath: string;
  now?: () => Date;
  source?: MetricsSource;
}): { sample(): Promise<MetricsSample> } {
  const source = options.source ?? systemSource;
  const now = options.now ?? (() => new Date());
  let previous = cpuTimes(source.cpus());
  return {
    async sample() {
      const current = cpuTimes(source.cpus());
      const cpu = cpuPercent(previous, current);
      previous = current;
      const [load1 = 0, load5 = 0, load15 = 0] = source.loadavg();
      const total = source.totalmem();
      const disk = await source.disk(options.diskPath);
      return {
        at: now().toISOString(),
        cpuPercent: cpu,
        load1: Math.max(0, load1),
        load5: Math.max(0, load5),
        load15: Math.max(0, load15),
        memoryUsedBytes: Math.max(0, total - source.freemem()),
        memoryTotalBytes: total,
        diskUsedBytes: Math.max(0, disk.totalBytes - disk.freeBytes),
        diskTotalBytes: disk.totalBytes,
      };
    },
  };
}

/** Starts a repeating timer; returns the function that stops it. Injectable for tests. */
export type Schedule = (tick: () => void, intervalMs: number) => () => void;

/** The real timer. */
export const scheduleInterval: Schedule = (tick, intervalMs) => {
  const handle = setInterval(tick, intervalMs);
  return () => clearInterval(handle);
};

/** A running sampler: `sampleNow` sends one sample at once (after a connect), `stop` ends it. */
export interface MetricsLoop {
  sampleNow(): void;
  stop(): void;
}

/** Sends a sample every `intervalMs`; a failed sample is reported and the next one still runs. */
export function startMetrics(options: {
  sampler: { sample(): Promise<MetricsSample> };
  send: (sample: MetricsSample) => void;
  intervalMs: number;
  onError: (err: unknown) => void;
  schedule?: Schedule;
}): MetricsLoop {
  let running = false;
  const tick = () => {
    if (running) return; // a slow statfs must not pile samples up
    running = true;
    options.sampler.sample().then(options.send, options.onError).finally(() => {
      running = false;
    });
  };
  const stop = (options.schedule ?? scheduleInterval)(tick, options.intervalMs);
  return { sampleNow: tick, stop };
}
