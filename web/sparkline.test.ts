import { expect, test } from "bun:test";
import { type SparklineOptions, sparklineSvg } from "./sparkline.tsx";

// 104 × 24 with a 2-pixel pad: x = 2 + at, y = 22 − value / 5, so expected numbers read easily.
const OPTIONS: SparklineOptions = {
  label: "CPU",
  from: 0,
  to: 100,
  min: 0,
  max: 100,
  maxGapMs: 30,
  width: 104,
  height: 24,
};
const frame = (label: string, shapes: string) =>
  '<svg xmlns="http://www.w3.org/2000/svg" class="sparkline" width="104" height="24" ' +
  `viewBox="0 0 104 24" role="img" aria-label="${label}"><title>${label}</title>${shapes}</svg>`;
const line = (points: string) =>
  `<polyline points="${points}" fill="none" stroke="currentColor" stroke-width="1.5" ` +
  'stroke-linejoin="round" stroke-linecap="round"/>';
const dot = (x: number, y: number) => `<circle cx="${x}" cy="${y}" r="1.5" fill="currentColor"/>`;

test("draws samples as one line across the window, higher values higher up", () => {
  const points = [{ at: 0, value: 0 }, { at: 25, value: 50 }, { at: 50, value: 100 }];
  expect(sparklineSvg(points, OPTIONS)).toBe(frame("CPU", line("2,22 27,12 52,2")));
});

test("breaks the line where samples are further apart than the gap, and dots a lone sample", () => {
  const points = [
    { at: 0, value: 10 },
    { at: 20, value: 20 },
    { at: 60, value: 30 },
    { at: 100, value: 40 },
  ];
  expect(sparklineSvg(points, OPTIONS)).toBe(
    frame("CPU", line("2,20 22,18") + dot(62, 16) + dot(102, 14)),
  );
});

test("rounds coordinates to one decimal", () => {
  const points = [{ at: 10, value: 33 }, { at: 33.33, value: 66.66 }];
  expect(sparklineSvg(points, OPTIONS)).toBe(frame("CPU", line("12,15.4 35.3,8.7")));
});

test("clamps values outside the range and leaves out samples outside the window", () => {
  const points = [
    { at: -5, value: 50 },
    { at: 0, value: 150 },
    { at: 10, value: -20 },
    { at: 101, value: 50 },
  ];
  expect(sparklineSvg(points, OPTIONS)).toBe(frame("CPU", line("2,2 12,22")));
});

test("without a range, a flat series is drawn across the middle", () => {
  const points = [{ at: 0, value: 7 }, { at: 20, value: 7 }];
  const { min: _min, max: _max, ...auto } = OPTIONS;
  expect(sparklineSvg(points, auto)).toBe(frame("CPU", line("2,12 22,12")));
});

test("no samples draw an empty frame", () => {
  expect(sparklineSvg([], OPTIONS)).toBe(frame("CPU", ""));
});

test("the label is escaped, so it cannot add markup", () => {
  const svg = sparklineSvg([], { ...OPTIONS, label: '<script>"&' });
  expect(svg).toBe(frame("&lt;script&gt;&quot;&amp;", ""));
});
