// The supervisor with real php-cli workers on loopback ports.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { cleanupsAfterEach } from "../../scripts/testing/cleanups.ts";
import { readFile } from "node:fs/promises";
import { testWithTools } from "../../scripts/testing/tools.ts";
import { waitFor } from "../../scripts/testing/wait.ts";
import { openConnections } from "./connections.ts";
import { checkWorkerHealth } from "./health-check.ts";
import { freePort } from "../../scripts/testing/ports.ts";
import { lookupUser } from "./site-user.ts";
import {
  createWorkerSupervisor,
  type SupervisorDeps,
  type WorkerSupervisor,
} from "./supervisor.ts";
import type { WorkerStatus } from "./supervisor-policy.ts";
import { createPhpSite, type PhpSite } from "./test-php-site.ts";

setDefaultTimeout(60_000);

const FAST = { backoff: { baseMs: 20, capMs: 200 }, startTimeoutMs: 10_000, stopGraceMs: 2_000 };

const onCleanup = cleanupsAfterEach();

function supervised(
  php: PhpSite,
  overrides: Partial<SupervisorDeps> = {},
): { supervisor: WorkerSupervisor; statuses: WorkerStatus[] } {
  const statuses: WorkerStatus[] = [];
  const supervisor = createWorkerSupervisor({
    port: php.site.port || freePort(),
    spawn: (port) => php.launch(php.site, port),
    healthCheck: (port) => checkWorkerHealth(port),
    inFlight: openConnections,
    sparePort: () => Promise.resolve(freePort()),
    switchUpstream: () => Promise.resolve(),
    onStatus: (status) => statuses.push(status),
    policy: FAST,
    ...overrides,
  });
  onCleanup(async () => {
    await supervisor.stop();
    await php.remove();
  });
  return { supervisor, statuses };
}

async function get(port: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/`);
  return `${response.status} ${await response.text()}`;
}

async function isAlive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => null);
  return stat !== null && !/\) [ZX] /.test(stat);
}

describe("a php-cli worker", () => {
  testWithTools(["php"], "serves index.php from the docroot on its loopback port", async () => {
    const { supervisor } = supervised(await createPhpSite());
    await supervisor.start();
    const { state, port, pid } = supervisor.status();
    expect(state).toBe("running");
    expect(await get(port)).toBe(`200 ok ${pid} `);
  });

  testWithTools(["php"], "is restarted after it is killed with SIGKILL", async () => {
    const { supervisor, statuses } = supervised(await createPhpSite());
    await supervisor.start();
    const first = supervisor.status().pid!;
    process.kill(first, "SIGKILL");
    await waitFor(
      "a new worker",
      () => supervisor.status().state === "running" && supervisor.status().pid !== first,
      10_000,
      10,
    );
    const { port, pid } = supervisor.status();
    expect(await get(port)).toBe(`200 ok ${pid} `);
    expect(statuses.find((s) => s.state === "restarting")?.lastError).toStartWith(
      "Worker exited on signal SIGKILL",
    );
  });

  testWithTools(
    ["php"],
    "that cannot start is marked failed after 5 crashes, saying why",
    async () => {
      const php = await createPhpSite({ overrides: { docroot: "missing" } });
      const { supervisor, statuses } = supervised(php);
      await supervisor.start();
      await waitFor("failed", () => supervisor.status().state === "failed", 10_000, 10);
      expect(statuses.filter((s) => s.state === "restarting" && s.retryInMs !== null)).toHaveLength(
        4,
      );
      expect(supervisor.status().lastError).toBe(
        "Worker exited with code 1 before answering; last stderr:\n" +
          `Directory ${php.releaseDir}/missing does not exist.`,
      );
    },
  );

  testWithTools(
    ["php"],
    "gets env values in its environment, never on its command line",
    async () => {
      const secret = "s3cret-'\"$(id)";
      const php = await createPhpSite({ overrides: { env: { APP_SECRET: secret } } });
      const { supervisor } = supervised(php);
      await supervisor.start();
      const { port, pid } = supervisor.status();
      expect(await get(port)).toBe(`200 ok ${pid} ${secret}`);
      const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8");
      expect(cmdline.split("\0")).toEqual([
        "/usr/bin/php",
        "-S",
        `127.0.0.1:${port}`,
        "-t",
        php.releaseDir,
        "",
      ]);
      expect(cmdline).not.toContain("s3cret");
    },
  );

  const asRoot = process.getuid?.() === 0;
  if (!asRoot) console.warn("skip: running a worker as its site's user needs root");
  (asRoot ? testWithTools : skipped)(
    ["php"],
    "runs as the site's user when the agent is root",
    async () => {
      const nobody = await lookupUser("nobody");
      if (!nobody) throw new Error("this host has no nobody user in /etc/passwd");
      const { supervisor } = supervised(await createPhpSite({ identity: nobody }));
      await supervisor.start();
      const { port, pid } = supervisor.status();
      expect(await get(port)).toBe(`200 ok ${pid} `);
      const status = await readFile(`/proc/${pid}/status`, "utf8");
      expect(status).toMatch(new RegExp(`^Uid:\\t${nobody.uid}\\t${nobody.uid}\\t`, "m"));
      expect(status).toMatch(new RegExp(`^Gid:\\t${nobody.gid}\\t${nobody.gid}\\t`, "m"));
    },
  );
});

describe("restart", () => {
  testWithTools(["php"], "drops no request through a proxy during 10 restarts", async () => {
    const php = await createPhpSite();
    const proxy = startTestProxy();
    const { supervisor } = supervised(php, { switchUpstream: proxy.switchUpstream });
    await supervisor.start();
    proxy.switchTo(supervisor.status().port);

    let restarts = 0;
    const failures: string[] = [];
    let served = 0;
    const loop = async () => {
      // Bounded: far more than 10 swaps need, and the loop ends as soon as they are done.
      for (let i = 0; i < 20_000 && restarts < 10; i++) {
        const answer = await fetch(proxy.url).then((r) => get200(r)).catch((e) => String(e));
        if (answer.startsWith("200 ok ")) served += 1;
        else failures.push(answer);
      }
    };
    const loops = [loop(), loop(), loop()];
    const pids = [supervisor.status().pid!];
    for (; restarts < 10; restarts++) {
      const before = served;
      await waitFor("requests through the proxy", () => served > before + 3, 10_000, 1);
      await supervisor.restart();
      pids.push(supervisor.status().pid!);
    }
    await Promise.all(loops);
    await proxy.stop();

    expect(failures).toEqual([]);
    expect(new Set(pids).size).toBe(11);
    expect(proxy.upstreams()).toHaveLength(11);
    for (const pid of pids.slice(0, -1)) expect(await isAlive(pid)).toBe(false);
  });

  testWithTools(["php"], "lets the old worker finish a request it is serving", async () => {
    const php = await createPhpSite({
      files: { "index.php": "<?php echo 'ok';", "slow.php": "<?php usleep(500000); echo 'slow';" },
    });
    // A proxy that, unlike Caddy, does not wait for old requests: the drain is all that protects.
    const { supervisor } = supervised(php);
    await supervisor.start();
    const oldPort = supervisor.status().port;
    const slow = fetch(`http://127.0.0.1:${oldPort}/slow.php`).then(get200);
    await waitFor(
      "the slow request to be in flight",
      async () => (await openConnections(oldPort)) > 0,
      5_000,
      1,
    );
    await supervisor.restart();
    expect(await slow).toBe("200 slow");
    expect(supervisor.status().port).not.toBe(oldPort);
  });
});

function skipped(_tools: string[], name: string, fn: () => Promise<void>): void {
  test.skip(name, fn);
}

async function get200(response: Response): Promise<string> {
  return `${response.status} ${await response.text()}`;
}

/**
 * A stand-in for Caddy: forwards to the current upstream and, like a Caddy reload, answers
 * `switchUpstream` only once the requests already sent to the old upstream have finished.
 */
function startTestProxy() {
  let upstream = 0;
  const seen: number[] = [];
  const inFlight = new Map<number, number>();
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      const target = upstream;
      inFlight.set(target, (inFlight.get(target) ?? 0) + 1);
      try {
        const response = await fetch(`http://127.0.0.1:${target}${new URL(request.url).pathname}`);
        return new Response(await response.arrayBuffer(), { status: response.status });
      } finally {
        inFlight.set(target, inFlight.get(target)! - 1);
      }
    },
  });
  const switchTo = (port: number) => {
    upstream = port;
    seen.push(port);
  };
  return {
    url: `http://127.0.0.1:${server.port}/`,
    switchTo,
    async switchUpstream(port: number) {
      const old = upstream;
      switchTo(port);
      await waitFor("the old upstream's requests", () => (inFlight.get(old) ?? 0) === 0, 10_000, 1);
    },
    upstreams: () => seen,
    stop: () => server.stop(true),
  };
}
