import { describe, expect, test } from "bun:test";
import { tmpdir } from "node:os";
import { HostFacts } from "./protocol/host-report.ts";
import { collectFacts, parseOsRelease } from "./facts.ts";

describe("host facts", () => {
  test("os-release: the pretty name, unquoted", () => {
    const text =
      'NAME="Debian GNU/Linux"\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n';
    expect(parseOsRelease(text)).toBe("Debian GNU/Linux 12 (bookworm)");
  });

  test("os-release: NAME and VERSION when there is no pretty name", () => {
    expect(parseOsRelease("NAME='Alpine'\nVERSION=3.20\n# comment\n")).toBe("Alpine 3.20");
    expect(parseOsRelease("garbage\n")).toBeNull();
  });

  test("collected facts fit the wire schema and report the disk of the given path", async () => {
    const facts = await collectFacts(tmpdir());
    expect(HostFacts.safeParse(facts).success).toBe(true);
    expect(facts.disk.path).toBe(tmpdir());
    expect(facts.disk.totalBytes).toBeGreaterThan(0);
    expect(facts.cpuCount).toBeGreaterThan(0);
  });

  test("a missing os-release falls back to the kernel's name", async () => {
    const facts = await collectFacts(tmpdir(), "/nonexistent/os-release");
    expect(facts.os).toBe(facts.kernel);
  });
});
