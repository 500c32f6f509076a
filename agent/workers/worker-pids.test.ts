import { afterEach, beforeEach, expect, test } from "bun:test";
import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { tempDir } from "../test-fixtures.ts";
import { waitFor } from "../../scripts/testing/wait.ts";
import { forgetWorker, recordWorker, stopLeftoverWorkers } from "./worker-pids.ts";

let dir: string;
let remove: () => Promise<void>;
const spawned: ReturnType<typeof Bun.spawn>[] = [];

beforeEach(async () => {
  ({ dir, remove } = await tempDir("worker-pids"));
});
afterEach(async () => {
  for (const proc of spawned.splice(0)) proc.kill("SIGKILL");
  await remove();
});

// A worker as the agent starts them: the leader of its own process group.
function leftover(argv = ["sleep", "300"]) {
  const proc = Bun.spawn(argv, { detached: true, stdio: ["ignore", "ignore", "ignore"] });
  spawned.push(proc);
  return proc;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test("a worker a dead agent left behind is stopped, with its process group", async () => {
  // A shell whose own child shares its group, as a worker's children would.
  const worker = leftover(["sh", "-c", "sleep 300 & wait"]);
  await recordWorker(dir, { siteId: "site_a", port: 20_000, pid: worker.pid });
  expect(await stopLeftoverWorkers(dir)).toEqual([worker.pid]);
  await worker.exited;
  expect(worker.signalCode).toBe("SIGTERM");
  // Its child was in the group, so it got the signal too.
  await waitFor("the worker's child to end", () => !alive(-worker.pid));
  expect(await readdir(dir)).toEqual([]);
  expect(await stopLeftoverWorkers(dir)).toEqual([]);
});

test("a note whose pid now names another process signals nothing", async () => {
  const bystander = leftover();
  // Right pid, wrong start time: the pid was reused since the note was written.
  await writeFile(
    join(dir, `site_b.20002.${bystander.pid}.pid`),
    JSON.stringify({
      pid: bystander.pid,
      ticks: "1",
    }),
  );
  await writeFile(join(dir, "site_c.20004.1.pid"), JSON.stringify({ pid: 1, ticks: "1" }));
  await writeFile(join(dir, "site_d.20006.9.pid"), "not json");
  expect(await stopLeftoverWorkers(dir)).toEqual([]);
  expect(alive(bystander.pid)).toBe(true);
  expect(await readdir(dir)).toEqual([]);
});

test("a worker that exited normally leaves no note", async () => {
  const worker = leftover();
  const note = { siteId: "site_e", port: 20_008, pid: worker.pid };
  await recordWorker(dir, note);
  expect(await readdir(dir)).toEqual([`site_e.20008.${worker.pid}.pid`]);
  await forgetWorker(dir, note);
  expect(await readdir(dir)).toEqual([]);
  expect(alive(worker.pid)).toBe(true);
});
