import { describe, expect, test } from "bun:test";
import { heartbeatWheel } from "./heartbeat-wheel.ts";

// Turns the wheel through `periods` whole periods and counts each item's heartbeats, and the
// most any one turn had to send.
function run(wheel: ReturnType<typeof heartbeatWheel<number>>, periodMs: number, periods = 1) {
  const beats = new Map<number, number>();
  let busiest = 0;
  for (let i = 0; i < (periods * periodMs) / wheel.slotMs; i++) {
    const due = [...wheel.turn()];
    busiest = Math.max(busiest, due.length);
    for (const item of due) beats.set(item, (beats.get(item) ?? 0) + 1);
  }
  return { beats, busiest };
}

describe("heartbeatWheel", () => {
  test("sockets that connected at once beat once a period each, spread over its slots", () => {
    const wheel = heartbeatWheel<number>(15_000);
    expect(wheel.slotMs).toBe(100);
    for (let i = 0; i < 10_000; i++) wheel.add(i);
    const { beats, busiest } = run(wheel, 15_000, 2);
    expect(beats.size).toBe(10_000);
    expect([...beats.values()].every((n) => n === 2)).toBe(true);
    // 150 slots: no turn sends to more than its even share, where one loop once sent to all.
    expect(busiest).toBe(Math.ceil(10_000 / 150));
  });

  test("a removed socket gets no more heartbeats; adding one twice gives it one slot", () => {
    const wheel = heartbeatWheel<string>(1_000);
    wheel.add("kept");
    wheel.add("kept");
    wheel.add("gone");
    wheel.remove("gone");
    const due = Array.from({ length: 1_000 / wheel.slotMs }, () => [...wheel.turn()]).flat();
    expect(due).toEqual(["kept"]);
  });

  test("a period shorter than two slots still has two, and each socket beats once in it", () => {
    const wheel = heartbeatWheel<number>(100);
    expect(wheel.slotMs).toBe(50);
    for (let i = 0; i < 5; i++) wheel.add(i);
    const { beats } = run(wheel, 100);
    expect([...beats.values()]).toEqual([1, 1, 1, 1, 1]);
  });
});
