// Starting, probing and stopping a server process for the smoke test and the benchmark. Each
// process is registered so a failure or Ctrl-C anywhere still kills it.
import { createServer } from "node:net";
import type { Subprocess } from "bun";

const OUTPUT_TAIL_BYTES = 64 * 1024;
const STOP_GRACE_MS = 5000;

/** A server started as a child process, with the tail of what it printed. */
export interface ServerProcess {
  name: string;
  url: string;
  /** The operating-system process id, to read its memory from /proc. */
  pid: number;
  /** The last 64 KiB of stdout and stderr, interleaved. */
  output(): string;
  /** True once the process has exited. */
  exited(): boolean;
  /** SIGTERM, then SIGKILL after a grace period; safe to call twice. */
  stop(): Promise<void>;
}

const live = new Set<ServerProcess>();

/** The environment every child starts from: enough to find tools and caches, no CADDIS_* leaks. */
export function baseEnv(): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" };
  for (const name of ["PATH", "HOME", "TMPDIR", "DENO_DIR", "XDG_CACHE_HOME"]) {
    const value = process.env[name];
    if (value) env[name] = value;
  }
  return env;
}

/** Asks the kernel for a free TCP port on 127.0.0.1 (released before the caller binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Spawns `argv` (never through a shell) with exactly `env`; the server must listen on `port`. */
export function launch(
  name: string,
  argv: string[],
  options: { cwd: string; env: Record<string, string>; port: number },
): ServerProcess {
  const proc: Subprocess<"ignore", "pipe", "pipe"> = Bun.spawn(argv, {
    cwd: options.cwd,
    env: options.env,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let tail = "";
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    const reader = stream.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      tail = (tail + decoder.decode(value, { stream: true })).slice(-OUTPUT_TAIL_BYTES);
    }
  };
  void collect(proc.stdout);
  void collect(proc.stderr);

  const server: ServerProcess = {
    name,
    url: `http://127.0.0.1:${options.port}`,
    pid: proc.pid,
    output: () => tail,
    exited: () => proc.exitCode !== null || proc.signalCode !== null,
    async stop() {
      live.delete(server);
      if (server.exited()) return;
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), STOP_GRACE_MS);
      await proc.exited;
      clearTimeout(timer);
    },
  };
  live.add(server);
  return server;
}

/**
 * Polls `server.url + path` until it answers 200, for at most `timeoutMs`; fails early if the
 * process exits. Returns the first 200 response.
 */
export async function waitForOk(
  server: ServerProcess,
  path: string,
  timeoutMs: number,
): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    if (server.exited()) throw new Error(`${server.name} exited before ${path} answered 200`);
    try {
      const res = await fetch(server.url + path, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return res;
      last = `HTTP ${res.status}`;
      await res.body?.cancel();
    } catch (err) {
      last = (err as Error).message;
    }
    await Bun.sleep(250);
  }
  throw new Error(`${server.name}: ${path} did not answer 200 within ${timeoutMs} ms (${last})`);
}

/** Stops every server still running; for `finally` blocks and signal handlers. */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((server) => server.stop()));
}

/** The last `lines` lines of a server's output, indented, for failure reports. */
export function outputTail(server: ServerProcess, lines = 40): string {
  return server.output().trimEnd().split("\n").slice(-lines).map((l) => `    ${l}`).join("\n");
}

const interruptCleanups: (() => Promise<void>)[] = [];

/** Registers work (removing temp dirs) to do if the run is interrupted before its own cleanup. */
export function onInterrupt(cleanup: () => Promise<void>): void {
  interruptCleanups.push(cleanup);
}

// Ctrl-C or a CI timeout must not leave servers holding ports, or temp dirs behind.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    void stopAll()
      .then(() => Promise.allSettled(interruptCleanups.map((cleanup) => cleanup())))
      .finally(() => process.exit(130));
  });
}
