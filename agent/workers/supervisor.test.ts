// The supervisor's logic on a fake clock and fake processes: backoff, crash window, swaps.
// Real PHP workers are exercised in supervisor-php.test.ts.
import { describe, expect, test } from "bun:test";
import type { ProcessExit, ProcessHandle } from "../exec.ts";
import { waitFor } from "../../scripts/testing/wait.ts";
import type { Clock } from "./clock.ts";
import {
  createWorkerSupervisor,
  type SupervisorDeps,
  type WorkerSupervisor,
} from "./supervisor.ts";
import type { WorkerStatus } from "./supervisor-policy.ts";

/** How the next spawned fake worker behaves. */
type Behaviour = "healthy" | "exits" | "silent" | "unstartable";

interface FakeWorker extends ProcessHandle {
  port: number;
  alive: boolean;
  crash(): void;
}

/** A clock whose sleeps pass at once, moving its time forward. */
function fakeClock(): Clock & { advance(ms: number): void } {
  let now = 0;
  return {
    now: () => now,
    async sleep(ms) {
      now += ms;
      await new Promise((resolve) => setImmediate(resolve));
    },
    advance(ms) {
      now += ms;
    },
  };
}

function fakeWorld(
  options: { behaviours?: Behaviour[]; inFlight?: (port: number) => number } = {},
) {
  const behaviours = [...(options.behaviours ?? [])];
  const workers: FakeWorker[] = [];
  const statuses: WorkerStatus[] = [];
  const events: string[] = [];
  const clock = fakeClock();
  let nextPort = 9100;

  function fakeWorker(port: number, behaviour: Behaviour): FakeWorker {
    let end!: (exit: ProcessExit) => void;
    const exited = new Promise<ProcessExit>((resolve) => end = resolve);
    const worker: FakeWorker = {
      pid: 1000 + workers.length,
      port,
      alive: behaviour !== "exits",
      exited,
      stop() {
        if (worker.alive) events.push(`stop ${port}`);
        worker.alive = false;
        end({ exitCode: null, signal: "SIGTERM" });
        return exited;
      },
      tail: () => ({ stdout: [], stderr: [`PHP Fatal error on ${port}`, ""] }),
      crash() {
        worker.alive = false;
        end({ exitCode: null, signal: "SIGKILL" });
      },
    };
    if (behaviour === "exits") end({ exitCode: 255, signal: null });
    (worker as { healthy?: boolean }).healthy = behaviour === "healthy";
    return worker;
  }

  const deps: SupervisorDeps = {
    port: 9001,
    clock,
    spawn(port) {
      const behaviour = behaviours.shift() ?? "healthy";
      events.push(`spawn ${port}`);
      if (behaviour === "unstartable") throw new Error("cannot run php: command not found");
      const worker = fakeWorker(port, behaviour);
      workers.push(worker);
      return Promise.resolve(worker);
    },
    healthCheck: (port) =>
      Promise.resolve(
        workers.some((w) => w.port === port && w.alive && (w as { healthy?: boolean }).healthy),
      ),
    inFlight(port) {
      events.push(`inFlight ${port}`);
      return Promise.resolve(options.inFlight?.(port) ?? 0);
    },
    sparePort: () => Promise.resolve(nextPort++),
    switchUpstream(port) {
      events.push(`switch ${port}`);
      return Promise.resolve();
    },
    onStatus: (status) => statuses.push(status),
  };
  const live = () => workers.filter((w) => w.alive);
  return { deps, clock, workers, statuses, events, live };
}

const states = (statuses: WorkerStatus[]) => statuses.map((s) => s.state);
const retries = (statuses: WorkerStatus[]) =>
  statuses.filter((s) => s.retryInMs !== null).map((s) => s.retryInMs);

async function waitForState(supervisor: WorkerSupervisor, state: string): Promise<void> {
  await waitFor(`state ${state}`, () => supervisor.status().state === state, 2_000, 1);
}

describe("createWorkerSupervisor", () => {
  test("start reports starting then running once the worker answers", async () => {
    const world = fakeWorld();
    const supervisor = createWorkerSupervisor(world.deps);
    await supervisor.start();
    expect(states(world.statuses)).toEqual(["starting", "running"]);
    expect(supervisor.status()).toEqual({
      state: "running",
      port: 9001,
      pid: 1000,
      lastError: null,
      recentCrashes: 0,
      retryInMs: null,
    });
    await supervisor.stop();
  });

  test("an unexpected exit is restarted after 1 s, on the same port", async () => {
    const world = fakeWorld();
    const supervisor = createWorkerSupervisor(world.deps);
    await supervisor.start();
    world.workers[0]!.crash();
    await waitFor(
      "a second worker",
      () => world.live().length === 1 && world.workers.length === 2,
      2_000,
      1,
    );
    await waitForState(supervisor, "running");
    expect(retries(world.statuses)).toEqual([1_000]);
    expect(world.workers[1]!.port).toBe(9001);
    expect(supervisor.status()).toMatchObject({ recentCrashes: 1 });
    expect(supervisor.status().lastError).toBe(
      "Worker exited on signal SIGKILL; last stderr:\nPHP Fatal error on 9001",
    );
    await supervisor.stop();
  });

  test("five crashes within a minute mark the site failed with the last stderr lines", async () => {
    const world = fakeWorld({ behaviours: ["exits", "exits", "exits", "exits", "exits"] });
    const supervisor = createWorkerSupervisor(world.deps);
    await supervisor.start();
    await waitForState(supervisor, "failed");
    expect(retries(world.statuses)).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(world.workers).toHaveLength(5);
    expect(supervisor.status()).toMatchObject({ state: "failed", recentCrashes: 5, pid: null });
    expect(supervisor.status().lastError).toBe(
      "Worker exited with code 255 before answering; last stderr:\nPHP Fatal error on 9001",
    );
  });

  test("no restarts follow `failed` until start is called again, which starts afresh", async () => {
    const world = fakeWorld({ behaviours: Array(5).fill("exits") });
    const supervisor = createWorkerSupervisor(world.deps);
    await supervisor.start();
    await waitForState(supervisor, "failed");
    world.clock.advance(600_000);
    await new Promise((resolve) => setImmediate(resolve));
    expect(world.workers).toHaveLength(5);
    await supervisor.start();
    expect(supervisor.status()).toMatchObject({
      state: "running",
      recentCrashes: 0,
      lastError: null,
    });
    await supervisor.stop();
  });

  test("the backoff doubles up to 60 s while crashes stay under the limit", async () => {
    const world = fakeWorld({ behaviours: Array(20).fill("exits") });
    const supervisor = createWorkerSupervisor({ ...world.deps, policy: { crashLimit: 1_000 } });
    await supervisor.start();
    await waitFor("eight retries", () => retries(world.statuses).length >= 8, 2_000, 1);
    await supervisor.stop();
    expect(retries(world.statuses).slice(0, 8)).toEqual([
      1_000,
      2_000,
      4_000,
      8_000,
      16_000,
      32_000,
      60_000,
      60_000,
    ]);
  });

  test("a worker that stayed up for the stable period restarts after 1 s again", async () => {
    const world = fakeWorld();
    const supervisor = createWorkerSupervisor(world.deps);
    await supervisor.start();
    for (let i = 0; i < 3; i++) {
      world.workers.at(-1)!.crash();
      await waitFor(
        "a new worker",
        () => world.workers.length === i + 2 && world.live().length === 1,
        2_000,
        1,
      );
      await waitForState(supervisor, "running");
    }
    world.clock.advance(60_000);
    world.workers.at(-1)!.crash();
    await waitFor(
      "a fifth worker",
      () => world.workers.length === 5 && world.live().length === 1,
      2_000,
      1,
    );
    await waitForState(supervisor, "running");
    expect(retries(world.statuses)).toEqual([1_000, 2_000, 4_000, 1_000]);
    await supervisor.stop();
  });

  test("crashes spread wider than the window never mark the site failed", async () => {
    const world = fakeWorld();
    const supervisor = createWorkerSupervisor(world.deps);
    await supervisor.start();
    for (let i = 0; i < 8; i++) {
      world.clock.advance(30_000);
      world.workers.at(-1)!.crash();
      await waitFor(
        "a new worker",
        () => world.workers.length === i + 2 && world.live().length === 1,
        2_000,
        1,
      );
      await waitForState(supervisor, "running");
    }
    expect(states(world.statuses)).not.toContain("failed");
    expect(supervisor.status().recentCrashes).toBeLessThan(5);
    await supervisor.stop();
  });

  test("a worker that never answers is stopped and counted as a crash", async () => {
    const world = fakeWorld({ behaviours: ["silent"] });
    const supervisor = createWorkerSupervisor(world.deps);
    await supervisor.start();
    expect(world.events.slice(0, 2)).toEqual(["spawn 9001", "stop 9001"]);
    expect(world.statuses[1]).toMatchObject({ state: "restarting", retryInMs: 1_000 });
    expect(world.statuses[1]!.lastError).toStartWith(
      "Worker did not answer on port 9001 within 15000 ms",
    );
    await waitForState(supervisor, "running");
    await supervisor.stop();
  });

  test("a worker that cannot be started at all is a crash with the reason", async () => {
    const world = fakeWorld({ behaviours: ["unstartable"] });
    const supervisor = createWorkerSupervisor(world.deps);
    await supervisor.start();
    expect(world.statuses[1]).toMatchObject({
      state: "restarting",
      lastError: "Worker cannot run php: command not found",
    });
    await supervisor.stop();
  });

  test("stop is not a crash and ends all retries", async () => {
    const world = fakeWorld({ behaviours: ["healthy", "exits"] });
    const supervisor = createWorkerSupervisor(world.deps);
    await supervisor.start();
    await supervisor.stop();
    expect(supervisor.status()).toMatchObject({ state: "stopped", recentCrashes: 0, pid: null });
    world.clock.advance(120_000);
    await new Promise((resolve) => setImmediate(resolve));
    expect(world.workers).toHaveLength(1);
    expect(world.live()).toHaveLength(0);
  });
});

describe("restart", () => {
  test("starts the new worker on a spare port, switches Caddy, then drains the old one", async () => {
    let busy = 3;
    const world = fakeWorld({ inFlight: (port) => port === 9001 ? Math.max(0, busy--) : 0 });
    const supervisor = createWorkerSupervisor(world.deps);
    await supervisor.start();
    await supervisor.restart();
    expect(world.events).toEqual([
      "spawn 9001",
      "spawn 9100",
      "switch 9100",
      "inFlight 9001",
      "inFlight 9001",
      "inFlight 9001",
      "inFlight 9001",
      "stop 9001",
    ]);
    expect(supervisor.status()).toMatchObject({ state: "running", port: 9100, recentCrashes: 0 });
    expect(world.live().map((w) => w.port)).toEqual([9100]);
    // The swapped-in worker is supervised: its crash is restarted on its own port.
    world.workers[1]!.crash();
    await waitFor(
      "a replacement",
      () => world.live().length === 1 && world.workers.length === 3,
      2_000,
      1,
    );
    expect(world.workers[2]!.port).toBe(9100);
    await supervisor.stop();
  });

  test("releases the old upstream before draining it, and the dead one of a failed site", async () => {
    // Started, restarted, then four failed attempts after a crash: five crashes mean failed.
    const world = fakeWorld({ behaviours: ["healthy", "healthy", ...Array(4).fill("exits")] });
    const releaseUpstream = (port: number) => {
      world.events.push(`release ${port}`);
      return Promise.resolve();
    };
    const supervisor = createWorkerSupervisor({ ...world.deps, releaseUpstream });
    await supervisor.start();
    await supervisor.restart(9002);
    expect(world.events).toEqual([
      "spawn 9001",
      "spawn 9002",
      "switch 9002",
      "release 9001",
      "inFlight 9001",
      "stop 9001",
    ]);
    world.events.length = 0;
    world.workers[1]!.crash();
    await waitForState(supervisor, "failed");
    await supervisor.restart(9001);
    expect(world.events.slice(-3)).toEqual(["spawn 9001", "switch 9001", "release 9002"]);
    await supervisor.stop();
  });

  test("an old worker still busy after the drain limit is stopped anyway", async () => {
    const world = fakeWorld({ inFlight: () => 1 });
    const supervisor = createWorkerSupervisor({ ...world.deps, policy: { drainTimeoutMs: 500 } });
    await supervisor.start();
    await supervisor.restart();
    expect(world.events.filter((e) => e === "inFlight 9001")).toHaveLength(10);
    expect(world.events.at(-1)).toBe("stop 9001");
    await supervisor.stop();
  });

  test("a new worker that fails leaves the old one serving and Caddy untouched", async () => {
    const world = fakeWorld({ behaviours: ["healthy", "exits"] });
    const supervisor = createWorkerSupervisor(world.deps);
    await supervisor.start();
    await expect(supervisor.restart()).rejects.toThrow(
      "Restart failed: the new worker exited with code 255 before answering",
    );
    expect(world.events.some((e) => e.startsWith("switch"))).toBe(false);
    expect(supervisor.status()).toMatchObject({ state: "running", port: 9001 });
    expect(world.live().map((w) => w.port)).toEqual([9001]);
    await supervisor.stop();
  });

  test("restarting a failed site starts it on the requested port and points Caddy there", async () => {
    const world = fakeWorld({ behaviours: Array(5).fill("exits") });
    const supervisor = createWorkerSupervisor(world.deps);
    await supervisor.start();
    await waitForState(supervisor, "failed");
    await supervisor.restart(9200);
    expect(world.events.slice(-2)).toEqual(["spawn 9200", "switch 9200"]);
    expect(supervisor.status()).toMatchObject({ state: "running", port: 9200, recentCrashes: 0 });
    world.workers.at(-1)!.crash();
    await waitFor(
      "a replacement",
      () => world.live().length === 1 && world.workers.length === 7,
      2_000,
      1,
    );
    await supervisor.stop();
  });

  test("a restart onto the port being served is refused", async () => {
    const world = fakeWorld();
    const supervisor = createWorkerSupervisor(world.deps);
    await supervisor.start();
    await expect(supervisor.restart(9001)).rejects.toThrow(
      "port 9001 is the one the worker serves on",
    );
    await supervisor.stop();
  });

  test("a stop during a restart is not undone by it", async () => {
    const world = fakeWorld();
    const supervisor = createWorkerSupervisor(world.deps);
    await supervisor.start();
    const restarting = supervisor.restart();
    const stopping = supervisor.stop();
    await Promise.all([restarting, stopping]);
    expect(supervisor.status().state).toBe("stopped");
    expect(world.live()).toHaveLength(0);
    world.clock.advance(120_000);
    await new Promise((resolve) => setImmediate(resolve));
    expect(world.workers).toHaveLength(2);
  });
});
