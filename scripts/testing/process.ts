import type { Subprocess } from "bun";

/** A Caddis server started as its own process, as `npm start` would. */
export interface ServerProcess {
  url: string;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Sends SIGTERM and waits for the exit code. */
  stop(): Promise<number>;
}

/**
 * Runs `argv` (an entry file on Bun or Deno) with `env` and waits, up to `timeoutMs`, for its
 * "listening on" log line; fails with the process output if it exits or times out first.
 */
export async function startServerProcess(
  argv: string[],
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<ServerProcess> {
  const proc = Bun.spawn(argv, {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root", ...env },
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
  });
  let output = "";
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const reader = stream.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      output += decoder.decode(value, { stream: true });
    }
  };
  void collect(proc.stdout);
  void collect(proc.stderr);

  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const match = /listening on (http:\/\/[^\s"]+)/.exec(output);
    if (match?.[1]) {
      return {
        url: match[1],
        proc,
        output: () => output,
        async stop() {
          proc.kill("SIGTERM");
          return await proc.exited;
        },
      };
    }
    if (proc.exitCode !== null) break;
    await Bun.sleep(50);
  }
  proc.kill("SIGKILL");
  await proc.exited;
  throw new Error(`Server did not start (exit ${proc.exitCode}):\n${output.slice(-4000)}`);
}
