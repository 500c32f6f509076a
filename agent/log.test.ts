import { describe, expect, test } from "bun:test";
import { createLog } from "./log.ts";

describe("agent log", () => {
  test("writes one JSON line per entry and never a secret-named field", () => {
    const lines: string[] = [];
    const log = createLog({ name: "t", write: (line) => lines.push(line) }).child({ hostId: "h1" });
    log.info("enrolling", { token: "cde_secret", nested: { privateKey: "pk", ok: 1 } });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toEndWith("\n");
    const record = JSON.parse(lines[0]!);
    expect(record).toMatchObject({
      level: "info",
      name: "t",
      msg: "enrolling",
      hostId: "h1",
      token: "[redacted]",
      nested: { privateKey: "[redacted]", ok: 1 },
    });
    expect(lines[0]).not.toContain("cde_secret");
  });

  test("drops entries below the level", () => {
    const lines: string[] = [];
    const log = createLog({ name: "t", level: "warn", write: (line) => lines.push(line) });
    log.debug("no");
    log.info("no");
    log.warn("yes");
    expect(lines).toHaveLength(1);
  });
});
