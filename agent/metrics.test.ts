import { describe, expect, test } from "bun:test";
import type os from "node:os";
import { tmpdir } from "node:os";
import { MetricsSample } from "./protocol/host-report.ts";
import { waitFor } from "../scripts/testing/wait.ts";
import {
  cpuPercent,
  cpuTimes,
  createMetricsSampler,
  type MetricsSource,
  startMetrics,
} from "./metrics.ts";

const core = (busy: number, idle: number): os.CpuInfo => ({
  model: "test",
  speed: 1,
  times: { user: busy, nice: 0, sys: 0, idle, irq: 0 },
});

describe("metrics", () => {
  test("CPU percent is the busy share of the time between two readings", () => {
    const before = cpuTimes([core(100, 900), core(100, 900)]);
    const after = cpuTimes([core(250, 950), core(100, 1100)]);
    // busy +150 of total +400
    expect(cpuPercent(before, after)).toBe(37.5);
    expect(cpuPercent(after, after)).toBe(0);
  });

  test("a sample reports CPU since the previous sample, memory and disk use", async () => {
    let cpus = [core(0, 0)];
    const source: MetricsSource = {
      cpus: () => cpus,
      loadavg: () => [0.5, 0.25, 0.125],
      totalmem: () => 8_000,
      freemem: () => 3_000,
      disk: () => Promise.resolve({ totalBytes: 100_000, freeBytes: 40_000 }),
    };
    const at = new Date("2030-01-01T00:00:00Z");
    const sampler = createMetricsSampler({ diskPath: "/", source, now: () => at });
    cpus = [core(90, 10)];
    const sample = await sampler.sample();
    expect(sample).toEqual({
      at: at.toISOString(),
      cpuPercent: 90,
      load1: 0.5,
      load5: 0.25,
      load15: 0.125,
      memoryUsedBytes: 5_000,
      memoryTotalBytes: 8_000,
      diskUsedBytes: 60_000,
      diskTotalBytes: 100_000,
    });
    cpus = [core(90, 110)];
    expect((await sampler.sample()).cpuPercent).toBe(0);
  });

  test("each tick of the timer sends one sample that fits the wire schema", async () => {
    let tick: () => void = () => {};
    let stopped = false;
    const sent: MetricsSample[] = [];
    const loop = startMetrics({
      sampler: createMetricsSampler({ diskPath: tmpdir() }),
      send: (sample) => sent.push(sample),
      intervalMs: 30_000,
      onError: (err) => {
        throw err;
      },
      schedule: (fn, ms) => {
        expect(ms).toBe(30_000);
        tick = fn;
        return () => (stopped = true);
      },
    });
    tick();
    tick(); // a tick while a sample is still being taken is skipped
    await waitFor("a sample", () => sent.length === 1, 5_000, 5);
    expect(MetricsSample.safeParse(sent[0]).success).toBe(true);
    // After a connect the agent sends one at once, without waiting for the timer.
    loop.sampleNow();
    await waitFor("an immediate sample", () => sent.length === 2, 5_000, 5);
    loop.stop();
    expect(stopped).toBe(true);
  });
});
