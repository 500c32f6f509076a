// Percentiles of measured latencies, in the benchmark's printed form.

/** p50, p99 and max of a set of milliseconds (all 0 when empty). */
export interface Latency {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/** Summarises `samples` (milliseconds) by nearest-rank percentiles. */
export function latencyOf(samples: number[]): Latency {
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = (p: number) => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
  return { count: sorted.length, p50: rank(50), p99: rank(99), max: sorted.at(-1) ?? 0 };
}

/** "p50 1.23 / p99 4.56 / max 7.89 ms". */
export function formatLatency(latency: Latency): string {
  const ms = (n: number) => n.toFixed(2);
  return `p50 ${ms(latency.p50)} / p99 ${ms(latency.p99)} / max ${ms(latency.max)} ms`;
}
