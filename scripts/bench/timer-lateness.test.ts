import { expect, test } from "bun:test";
import { resolve } from "node:path";
import { formatLateness, STALL_MS, startTimerProbe } from "./timer-lateness.ts";

const ROOT = resolve(import.meta.dir, "../..");

test("the timer probe measures from its start to its stop, and reads the same figures twice", async () => {
  const probe = await startTimerProbe(ROOT);
  await Bun.sleep(300);
  const lateness = await probe.stop();
  expect(lateness.latency.count).toBeGreaterThan(0);
  expect(lateness.latency.max).toBeGreaterThanOrEqual(lateness.latency.p99);
  expect(lateness.stalls).toBeLessThanOrEqual(lateness.latency.count);
  expect(lateness.seconds).toBeGreaterThanOrEqual(0.3);
  expect(await probe.stop()).toBe(lateness);
  expect(formatLateness(lateness)).toMatch(new RegExp(`wakes over ${STALL_MS} ms$`));
});
