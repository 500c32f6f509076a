/** @jsxImportSource hono/jsx */
import { TIMING } from "../../agent/protocol/version.ts";
import type { MetricPoint } from "../../api/services/host-metrics.ts";
import { Table, Time } from "../components.tsx";
import { Sparkline, type SparklineOptions, type SparkPoint } from "../sparkline.tsx";

/** How far back the host page draws usage: everything the API keeps. */
export const USAGE_HOURS = 24;

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** Bytes in binary units with at most one decimal: "512 B", "1.5 GiB". */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const shown = unit === 0 ? String(value) : String(Math.round(value * 10) / 10);
  return `${shown} ${UNITS[unit]}`;
}

const percent = (used: number, total: number) => (total > 0 ? (used / total) * 100 : 0);

// A missed sample or two still joins up; a longer silence shows as a gap in the line.
const MAX_GAP_MS = 3 * TIMING.metricsMs;

interface Metric {
  name: string;
  current: (p: MetricPoint) => string;
  value: (p: MetricPoint) => number;
  /** The top of the chart. */
  max: (points: MetricPoint[]) => number;
}

function metrics(cpuCount: number): Metric[] {
  return [
    {
      name: "CPU",
      current: (p) => `${Math.round(p.cpuPercent)}%`,
      value: (p) => p.cpuPercent,
      max: () => 100,
    },
    {
      name: "Load",
      current: (p) => [p.load1, p.load5, p.load15].map((l) => l.toFixed(2)).join(" / "),
      value: (p) => p.load1,
      // Load at the CPU count means every core busy; a higher peak stretches the chart.
      max: (points) => Math.max(cpuCount, ...points.map((p) => p.load1)),
    },
    {
      name: "Memory",
      current: (p) =>
        `${formatBytes(p.memoryUsedBytes)} of ${formatBytes(p.memoryTotalBytes)} ` +
        `(${Math.round(percent(p.memoryUsedBytes, p.memoryTotalBytes))}%)`,
      value: (p) => percent(p.memoryUsedBytes, p.memoryTotalBytes),
      max: () => 100,
    },
    {
      name: "Disk",
      current: (p) =>
        `${formatBytes(p.diskUsedBytes)} of ${formatBytes(p.diskTotalBytes)} ` +
        `(${Math.round(percent(p.diskUsedBytes, p.diskTotalBytes))}%)`,
      value: (p) => percent(p.diskUsedBytes, p.diskTotalBytes),
      max: () => 100,
    },
  ];
}

/** Current CPU, load, memory and disk use, each with a sparkline of the last 24 hours. */
export function UsageSection(props: { points: MetricPoint[]; now: Date; cpuCount: number }) {
  const { points, now } = props;
  const latest = points.at(-1);
  const to = now.getTime();
  const from = to - USAGE_HOURS * 60 * 60 * 1000;
  return (
    <section class="section" id="usage" aria-labelledby="usage-heading">
      <h2 id="usage-heading">Usage</h2>
      {latest
        ? (
          <p class="muted">
            Last sample <Time at={latest.at} />; charts span the last {USAGE_HOURS} hours.
          </p>
        )
        : <p class="muted">No samples in the last {USAGE_HOURS} hours.</p>}
      {latest && (
        <Table
          caption="Current usage"
          headers={["Metric", "Now", `Last ${USAGE_HOURS} hours`]}
          rows={metrics(props.cpuCount).map((metric) => {
            const series: SparkPoint[] = points.map((p) => ({
              at: Date.parse(p.at),
              value: metric.value(p),
            }));
            const options: SparklineOptions = {
              label: `${metric.name} over the last ${USAGE_HOURS} hours`,
              from,
              to,
              min: 0,
              max: metric.max(points),
              maxGapMs: MAX_GAP_MS,
              width: 240,
              height: 32,
            };
            return [
              metric.name,
              metric.current(latest),
              <Sparkline points={series} options={options} />,
            ];
          })}
        />
      )}
    </section>
  );
}
