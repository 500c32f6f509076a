import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { MAX_TAIL_LINE_CHARS, runCommand, startProcess } from "./exec.ts";
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

const PATH_ONLY = { PATH: "/usr/bin:/bin" };

// The first value of a `Key:\tvalue…` line in /proc/<pid>/status.
async function procStatusField(pid: number, key: string): Promise<string | undefined> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return status.split("\n").find((line) => line.startsWith(`${key}:`))?.split(/\s+/)[1];
}

describe("startProcess", () => {
  test("reports the exit code and the last lines of each stream, oldest first", async () => {
    const proc = startProcess(
      [
        "sh",
        "-c",
        "for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; done; printf tail >&2; exit 7",
      ],
      { env: PATH_ONLY, keepLines: 3 },
    );
    expect(await proc.exited).toEqual({ exitCode: 7, signal: null });
    expect(proc.tail()).toEqual({
      stdout: ["out3", "out4", "out5"],
      stderr: ["err4", "err5", "tail"],
    });
  });

  test("an endless line is cut, so the tail stays bounded", async () => {
    const proc = startProcess(["sh", "-c", "head -c 1000000 /dev/zero | tr '\\0' x"], {
      env: PATH_ONLY,
    });
    await proc.exited;
    const [line] = proc.tail().stdout;
    expect(line).toHaveLength(MAX_TAIL_LINE_CHARS);
  });

  test("the child gets exactly the environment it is given, and argv stays literal", async () => {
    process.env.CADDIS_EXEC_TEST_SECRET = "do-not-leak";
    try {
      const proc = startProcess(["sh", "-c", 'env; echo "$1"', "sh", "$(touch pwned); *"], {
        cwd: dir,
        env: { ...PATH_ONLY, ONLY_THIS: "1" },
      });
      await proc.exited;
      const names = proc.tail().stdout.map((line) => line.split("=")[0]).sort();
      expect(names).toEqual(["$(touch pwned); *", "ONLY_THIS", "PATH", "PWD"]);
      expect(await readdir(dir)).toEqual([]);
    } finally {
      delete process.env.CADDIS_EXEC_TEST_SECRET;
    }
  });

  test("stop sends SIGTERM to the whole group", async () => {
    const proc = startProcess(["sh", "-c", "sleep 30 & echo $!; wait"], { env: PATH_ONLY });
    await waitFor("the child pid", () => proc.tail().stdout.length > 0, 5_000, 10);
    const child = Number(proc.tail().stdout[0]);
    expect(await proc.stop(5_000)).toEqual({ exitCode: null, signal: "SIGTERM" });
    await waitFor("the background sleep to end", async () => !(await isRunning(child)), 5_000, 10);
  });

  test("stop kills with SIGKILL once the grace period has passed", async () => {
    const proc = startProcess(["sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done"], {
      env: PATH_ONLY,
    });
    await waitFor("the TERM trap", () => proc.tail().stdout.includes("ready"), 5_000, 10);
    expect(await proc.stop(200)).toEqual({ exitCode: null, signal: "SIGKILL" });
  });

  test("what the leader started dies with it when the leader exits on its own", async () => {
    const proc = startProcess(["sh", "-c", "sleep 30 & echo $!; exit 1"], { env: PATH_ONLY });
    expect(await proc.exited).toEqual({ exitCode: 1, signal: null });
    const child = Number(proc.tail().stdout[0]);
    await waitFor("the orphaned sleep to end", async () => !(await isRunning(child)), 5_000, 10);
  });

  test("a missing binary throws a message naming it", () => {
    expect(() => startProcess(["caddis-no-such-binary"], { env: PATH_ONLY })).toThrow(
      "cannot run caddis-no-such-binary: command not found",
    );
    expect(() => startProcess([join(dir, "missing")], { env: PATH_ONLY, cwd: join(dir, "x") }))
      .toThrow("was not found, or the directory");
  });

  const asRoot = process.getuid?.() === 0;
  if (!asRoot) console.warn("skip: starting a process as another user needs root");
  test.skipIf(!asRoot)("runs as the given user and group, without the agent's groups", async () => {
    const proc = startProcess(["sleep", "30"], { env: PATH_ONLY, uid: 65534, gid: 65534 });
    try {
      const execd = async () =>
        (await readFile(`/proc/${proc.pid}/cmdline`, "utf8").catch(() => "")) === "sleep\x0030\x00";
      await waitFor("sleep to be running", execd, 5_000, 10);
      expect(await procStatusField(proc.pid, "Uid")).toBe("65534");
      expect(await procStatusField(proc.pid, "Gid")).toBe("65534");
      expect(await procStatusField(proc.pid, "Groups")).toBe("");
    } finally {
      await proc.stop(1_000);
    }
  });
});
