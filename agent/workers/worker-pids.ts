// Workers run detached, in their own process groups, so that a restart of one never signals
// another; but an agent that dies hard (kill -9, out of memory) then leaves them running, holding
// their ports, and the next agent's workers could not listen. Each worker's pid is kept in a file
// while it runs, and the next agent stops what is left before it starts anything.
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

const GRACE_MS = 5_000;
const POLL_MS = 50;

// The process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat): with the pid
// it names one process, so a pid reused by something else since is never signalled.
async function startTicks(pid: number): Promise<string | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which may itself hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

// One file per process, so the note of a worker that exited never removes its successor's.
function fileOf(dir: string, worker: { siteId: string; port: number; pid: number }): string {
  return join(dir, `${worker.siteId}.${worker.port}.${worker.pid}.pid`);
}

/** Notes a worker that just started, until `forgetWorker`. */
export async function recordWorker(
  dir: string,
  worker: { siteId: string; port: number; pid: number },
): Promise<void> {
  const ticks = await startTicks(worker.pid);
  if (ticks === null) return; // it has exited already: nothing to leave behind
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(fileOf(dir, worker), JSON.stringify({ pid: worker.pid, ticks }), {
    mode: 0o600,
  });
}

/** The worker exited: its note goes. */
export async function forgetWorker(
  dir: string,
  worker: { siteId: string; port: number; pid: number },
): Promise<void> {
  await rm(fileOf(dir, worker), { force: true });
}

/**
 * Stops every worker a previous agent left running (SIGTERM to its process group, SIGKILL after
 * a grace period) and clears the notes; returns the pids it stopped.
 */
export async function stopLeftoverWorkers(dir: string): Promise<number[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const stopped: number[] = [];
  for (const name of names.filter((n) => n.endsWith(".pid"))) {
    const file = join(dir, name);
    const note = await readFile(file, "utf8").then(JSON.parse).catch(() => null) as
      | { pid?: unknown; ticks?: unknown }
      | null;
    const pid = typeof note?.pid === "number" && Number.isInteger(note.pid) ? note.pid : 0;
    if (pid > 1 && note?.ticks !== undefined && await startTicks(pid) === note.ticks) {
      await stopGroup(pid, note.ticks as string);
      stopped.push(pid);
    }
    await rm(file, { force: true });
  }
  return stopped;
}

async function stopGroup(pid: number, ticks: string): Promise<void> {
  const signal = (name: "SIGTERM" | "SIGKILL") => {
    try {
      process.kill(-pid, name);
    } catch {
      // Gone already.
    }
  };
  const gone = async (withinMs: number) => {
    const deadline = Date.now() + withinMs;
    while (await startTicks(pid) === ticks) {
      if (Date.now() > deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    return true;
  };
  signal("SIGTERM");
  if (await gone(GRACE_MS)) return;
  signal("SIGKILL");
  await gone(GRACE_MS);
}
