import { describe, expect, test } from "bun:test";
import { type CommandHandler, runHandler } from "./command-handler.ts";
import { testEnvelope } from "./test-fixtures.ts";

const at = new Date("2030-01-01T00:00:00Z");
const run = (kind: string, handler: CommandHandler, payload: Record<string, unknown> = {}) =>
  runHandler(
    testEnvelope("host_1", { kind, payload }),
    { [kind]: handler },
    new AbortController().signal,
    () => at,
  );

describe("running a handler", () => {
  test("a result is kept as the JSON the journal and the wire will carry", async () => {
    const finish = await run("test.ok", () => Promise.resolve({ n: 1, skipped: undefined }));
    expect(finish).toEqual({
      outcome: "succeeded",
      result: { n: 1 },
      error: null,
      at: at.toISOString(),
    });
  });

  test("a payload that does not fit the kind's schema fails without running the handler", async () => {
    let ran = false;
    const finish = await run("host.diagnose", () => {
      ran = true;
      return Promise.resolve({});
    }, { unexpected: true });
    expect(finish.outcome).toBe("failed");
    expect(finish.error).toStartWith("invalid payload for host.diagnose");
    expect(ran).toBe(false);
  });

  test("a handler returning something other than an object fails", async () => {
    const finish = await run(
      "test.bad",
      () => Promise.resolve([1, 2] as unknown as Record<string, unknown>),
    );
    expect(finish.error).toBe("the test.bad handler returned no result object");
  });

  test("a result too large for a frame fails", async () => {
    const finish = await run("test.big", () => Promise.resolve({ blob: "x".repeat(600 * 1024) }));
    expect(finish.error).toMatch(/result is too large/);
  });

  test("a long error message is cut to what the frame carries", async () => {
    const finish = await run("test.throw", () => Promise.reject(new Error("e".repeat(20_000))));
    expect(finish.error).toHaveLength(8000);
  });

  test("a kind without a handler, even one named like an Object property, fails", async () => {
    const finish = await runHandler(
      testEnvelope("host_1", { kind: "to.string" }),
      {},
      new AbortController().signal,
      () => at,
    );
    expect(finish.error).toBe("unknown command kind to.string");
  });
});
