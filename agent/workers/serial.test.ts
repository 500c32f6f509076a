import { describe, expect, test } from "bun:test";
import { createSerial } from "./serial.ts";

describe("createSerial", () => {
  test("runs operations one at a time, in order, past a failure", async () => {
    const serial = createSerial();
    const log: string[] = [];
    let release!: () => void;
    const first = serial.run(async () => {
      log.push("first start");
      await new Promise<void>((resolve) => release = resolve);
      log.push("first end");
      throw new Error("first failed");
    });
    const second = serial.run(() => {
      log.push("second");
      return Promise.resolve(2);
    });
    await Promise.resolve();
    expect(log).toEqual(["first start"]);
    release();
    await expect(first).rejects.toThrow("first failed");
    expect(await second).toBe(2);
    expect(log).toEqual(["first start", "first end", "second"]);
  });
});
