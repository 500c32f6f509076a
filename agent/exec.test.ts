import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { readdir, readFile } from "node:fs/promises";
import { runCommand } from "./exec.ts";
import { tempDir } from "./test-fixtures.ts";
import { waitFor } from "../scripts/testing/wait.ts";

let dir: string;
let remove: () => Promise<void>;
beforeEach(async () => ({ dir, remove } = await tempDir("exec")));
afterEach(() => remove());

// A killed process may stay a zombie until its new parent reaps it; that is not running.
async function isRunning(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => null);
  const state = stat?.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return state !== undefined && state !== "Z" && state !== "X";
}

const limits = { timeoutMs: 10_000, maxOutputBytes: 64 * 1024 };

describe("runCommand", () => {
  test("shell metacharacters in an argument stay literal", async () => {
    const hostile = `x; touch pwned && echo $(touch pwned2) \`touch pwned3\` | cat > pwned4 *`;
    const result = await runCommand(["printf", "%s", hostile], { ...limits, cwd: dir });
    expect(result).toMatchObject({ exitCode: 0, stdout: hostile, timedOut: false, error: null });
    expect(await readdir(dir)).toEqual([]);
  });

  test("a command over its time limit is killed, with whatever it started", async () => {
    const result = await runCommand(["sh", "-c", "sleep 30 & echo $!; wait"], {
      ...limits,
      timeoutMs: 300,
    });
    expect(result.timedOut).toBe(true);
    expect(result.exitCode).toBeNull();
    expect(result.error).toContain("timed out after 300 ms");
    const child = Number(result.stdout.trim());
    expect(child).toBeGreaterThan(0);
    await waitFor(
      "the background sleep to be killed",
      async () => !(await isRunning(child)),
      5_000,
      20,
    );
  });

  test("a missing binary is a result, not a throw", async () => {
    const result = await runCommand(["caddis-no-such-binary", "--version"], limits);
    expect(result).toMatchObject({ exitCode: null, timedOut: false });
    expect(result.error).toBe("cannot run caddis-no-such-binary: command not found");
  });

  test("the child gets only the environment it is given", async () => {
    process.env.CADDIS_EXEC_TEST_SECRET = "do-not-leak";
    try {
      const inherited = await runCommand(["env"], limits);
      expect(inherited.stdout).not.toContain("do-not-leak");
      expect(inherited.stdout.trim().split("\n").map((l) => l.split("=")[0])).toEqual(["PATH"]);
      const given = await runCommand(["env"], {
        ...limits,
        env: { PATH: "/usr/bin:/bin", A: "1" },
      });
      expect(given.stdout).toContain("A=1");
    } finally {
      delete process.env.CADDIS_EXEC_TEST_SECRET;
    }
  });

  test("output beyond the cap is cut and flagged, and the exit code still reported", async () => {
    const result = await runCommand(["sh", "-c", "head -c 100000 /dev/zero | tr '\\0' y; exit 3"], {
      ...limits,
      maxOutputBytes: 1000,
    });
    expect(result.stdout).toHaveLength(1000);
    expect(result.truncated).toBe(true);
    expect(result.exitCode).toBe(3);
  });

  test("stdin is passed when given", async () => {
    const result = await runCommand(["cat"], { ...limits, stdin: "hello" });
    expect(result.stdout).toBe("hello");
  });
});
