import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmod, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { TOOL_NAMES, ToolInventory } from "./protocol/host-report.ts";
import { DEFAULT_PATH } from "./exec.ts";
import { collectInventory, findOnPath, inspectTool } from "./inventory.ts";
import { tempDir } from "./test-fixtures.ts";
import { testWithTools } from "../scripts/testing/tools.ts";

let dir: string;
let remove: () => Promise<void>;
beforeEach(async () => ({ dir, remove } = await tempDir("inventory")));
afterEach(() => remove());

const SEARCH_PATH = process.env.PATH ?? DEFAULT_PATH;

describe("tool inventory", () => {
  testWithTools(["git"], "finds git on PATH and reads the first line of its version", async () => {
    const report = await inspectTool("git", ["--version"], SEARCH_PATH);
    expect(report.present).toBe(true);
    expect(report.path).toEndWith("/git");
    expect(report.version).toMatch(/^git version \d+\.\d+/);
  });

  test("a tool that is not installed is reported absent", async () => {
    const report = await inspectTool("caddis-no-such-tool", ["--version"], SEARCH_PATH);
    expect(report).toEqual({ present: false, path: null, version: null });
  });

  test("a file without execute bits does not count, an executable one does", async () => {
    const tool = join(dir, "caddis-fake");
    await writeFile(tool, "#!/bin/sh\necho 'fake 1.2.3'\necho second line\n");
    await chmod(tool, 0o644);
    expect(await findOnPath("caddis-fake", dir)).toBeNull();
    await chmod(tool, 0o755);
    expect(await findOnPath("caddis-fake", dir)).toBe(tool);
    expect(await inspectTool("caddis-fake", [], dir)).toEqual({
      present: true,
      path: tool,
      version: "fake 1.2.3",
    });
  });

  test("relative PATH entries are never searched", async () => {
    expect(await findOnPath("sh", ".:bin:usr/bin")).toBeNull();
  });

  test("a version command that hangs leaves the tool present without a version", async () => {
    const tool = join(dir, "caddis-hang");
    await writeFile(tool, "#!/bin/sh\n/bin/sleep 30\n", { mode: 0o755 });
    expect(await inspectTool("caddis-hang", [], dir, 200)).toEqual({
      present: true,
      path: tool,
      version: null,
    });
  });

  test("the inventory covers every tool and fits the wire schema", async () => {
    const inventory = await collectInventory(SEARCH_PATH);
    expect(Object.keys(inventory).sort()).toEqual([...TOOL_NAMES].sort());
    expect(ToolInventory.safeParse(inventory).success).toBe(true);
  });
});
