import { describe, expect, test } from "bun:test";
import { backoffDelay, RECONNECT_BACKOFF } from "./backoff.ts";

describe("reconnect backoff", () => {
  test("the ceiling doubles from 1 s and stops at 60 s", () => {
    const top = (attempt: number) => backoffDelay(attempt, RECONNECT_BACKOFF, () => 0.999999);
    expect(top(0)).toBe(999);
    expect(top(1)).toBe(1_999);
    expect(top(5)).toBe(31_999);
    expect(top(6)).toBe(59_999);
    expect(top(1_000)).toBe(59_999);
  });

  test("full jitter: anywhere from 0 up to the ceiling", () => {
    expect(backoffDelay(3, RECONNECT_BACKOFF, () => 0)).toBe(0);
    expect(backoffDelay(3, RECONNECT_BACKOFF, () => 0.5)).toBe(4_000);
    for (let attempt = 0; attempt < 40; attempt++) {
      const delay = backoffDelay(attempt);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(Math.min(60_000, 1_000 * 2 ** attempt));
    }
  });

  test("a random source returning exactly 1 still stays below the ceiling", () => {
    expect(backoffDelay(0, { baseMs: 1_000, capMs: 60_000 }, () => 1)).toBeLessThan(1_000);
  });
});
