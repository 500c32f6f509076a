import { describe, expect, test } from "bun:test";
import { formatLatency, latencyOf } from "./latency.ts";

describe("latencyOf", () => {
  test("takes nearest-rank percentiles, so p99 of 100 samples is the 99th smallest", () => {
    const samples = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted
    expect(latencyOf(samples)).toEqual({ count: 100, p50: 50, p99: 99, max: 100 });
  });

  test("a single slow sample in fewer than 100 is the p99", () => {
    expect(latencyOf([1, 1, 1, 1, 40]).p99).toBe(40);
  });

  test("no samples give zeros rather than NaN", () => {
    expect(latencyOf([])).toEqual({ count: 0, p50: 0, p99: 0, max: 0 });
    expect(formatLatency(latencyOf([]))).toBe("p50 0.00 / p99 0.00 / max 0.00 ms");
  });
});
