/** @jsxImportSource hono/jsx */
// A small line chart drawn on the server: plain SVG markup from numbers alone, no script and no
// style attribute, so the panel's CSP (default-src 'self') has nothing to block.
import { raw } from "hono/html";

/** One sample: when (epoch milliseconds) and its value. */
export interface SparkPoint {
  at: number;
  value: number;
}

/** What the chart spans and how it is labelled. */
export interface SparklineOptions {
  /** Read out by screen readers and shown as a tooltip. */
  label: string;
  /** The time window drawn left to right (epoch milliseconds). */
  from: number;
  to: number;
  /** Value range; defaults to the points' own minimum and maximum. */
  min?: number;
  max?: number;
  /** Samples further apart than this are not joined: the gap shows the host was silent. */
  maxGapMs: number;
  width?: number;
  height?: number;
}

// Keeps lines off the edges, so a flat line at the maximum is not cut in half.
const PAD = 2;

function escapeXml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}

// One decimal is finer than a pixel; "-0" and "12.0" would only make the output unstable.
function coordinate(n: number): string {
  const rounded = Math.round(n * 10) / 10;
  return String(Object.is(rounded, -0) ? 0 : rounded);
}

// Consecutive points closer than `maxGapMs`, each run drawn as one line.
function runsOf(points: readonly SparkPoint[], maxGapMs: number): SparkPoint[][] {
  const runs: SparkPoint[][] = [];
  let previous: SparkPoint | undefined;
  for (const point of points) {
    const run = runs.at(-1);
    if (!run || !previous || point.at - previous.at > maxGapMs) runs.push([point]);
    else run.push(point);
    previous = point;
  }
  return runs;
}

/**
 * The SVG markup of a sparkline over [from, to]; points must be oldest first. Values outside
 * [min, max] are clamped, a lone sample between gaps is a dot, and no points draw an empty frame.
 */
export function sparklineSvg(points: readonly SparkPoint[], options: SparklineOptions): string {
  const width = options.width ?? 120;
  const height = options.height ?? 24;
  const inWindow = points.filter((p) =>
    p.at >= options.from && p.at <= options.to && Number.isFinite(p.value)
  );
  const values = inWindow.map((p) => p.value);
  const min = options.min ?? Math.min(...values);
  const max = options.max ?? Math.max(...values);
  const span = Math.max(1, options.to - options.from);
  const x = (at: number) => PAD + ((at - options.from) / span) * (width - 2 * PAD);
  const y = (value: number) => {
    if (!(max > min)) return height / 2;
    const share = (Math.min(max, Math.max(min, value)) - min) / (max - min);
    return height - PAD - share * (height - 2 * PAD);
  };
  const shapes = runsOf(inWindow, options.maxGapMs).map((run) => {
    const first = run[0];
    if (run.length === 1 && first) {
      return `<circle cx="${coordinate(x(first.at))}" cy="${coordinate(y(first.value))}" r="1.5" ` +
        `fill="currentColor"/>`;
    }
    const coords = run.map((p) => `${coordinate(x(p.at))},${coordinate(y(p.value))}`).join(" ");
    return `<polyline points="${coords}" fill="none" stroke="currentColor" stroke-width="1.5" ` +
      `stroke-linejoin="round" stroke-linecap="round"/>`;
  });
  const label = escapeXml(options.label);
  return `<svg xmlns="http://www.w3.org/2000/svg" class="sparkline" width="${width}" ` +
    `height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${label}">` +
    `<title>${label}</title>${shapes.join("")}</svg>`;
}

/** The sparkline as page content (raw markup: built from numbers and an escaped label only). */
export function Sparkline(props: { points: readonly SparkPoint[]; options: SparklineOptions }) {
  return raw(sparklineSvg(props.points, props.options));
}
