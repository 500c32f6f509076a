// The one place the agent starts processes. Always an argv array, never a shell, so no argument
// is ever re-parsed; the environment is passed whole, so the agent's own (which may hold an
// enrolment token) never leaks into a child; every run has a time limit and an output cap.

/** How to run one command. */
export interface RunOptions {
  /** The process group is killed with SIGKILL once this has passed. */
  timeoutMs: number;
  /** Bytes kept of each of stdout and stderr; the rest is read and discarded. */
  maxOutputBytes: number;
  cwd?: string;
  /** The child's entire environment; defaults to just a standard PATH. */
  env?: Record<string, string>;
  /** Text written to the child's stdin (closed at once when absent). */
  stdin?: string;
}

/** How a command ended. `error` explains a command that could not be started at all. */
export interface RunResult {
  /** Null when the process never started or was killed by a signal. */
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Output went over `maxOutputBytes` and was cut. */
  truncated: boolean;
  error: string | null;
}

/** The PATH children get unless the caller passes an environment. */
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Runs `argv` to completion (or its time limit) and collects its output; never throws. */
export async function runCommand(argv: string[], options: RunOptions): Promise<RunResult> {
  const notStarted = (error: string): RunResult => ({
    exitCode: null,
    signal: null,
    stdout: "",
    stderr: "",
    timedOut: false,
    truncated: false,
    error,
  });
  if (argv.length === 0 || !argv[0]) return notStarted("no command given");
  let proc: ReturnType<typeof spawn>;
  try {
    proc = spawn(argv, options);
  } catch (err) {
    return notStarted(startError(argv[0], options.cwd, err));
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(proc);
  }, options.timeoutMs);
  try {
    const [stdout, stderr, exitCode] = await Promise.all([
      readCapped(proc.stdout, options.maxOutputBytes),
      readCapped(proc.stderr, options.maxOutputBytes),
      proc.exited,
    ]);
    return {
      exitCode: proc.signalCode ? null : exitCode,
      signal: proc.signalCode ? String(proc.signalCode) : null,
      stdout: stdout.text,
      stderr: stderr.text,
      timedOut,
      truncated: stdout.truncated || stderr.truncated,
      error: timedOut ? `${argv[0]} timed out after ${options.timeoutMs} ms and was killed` : null,
    };
  } finally {
    clearTimeout(timer);
  }
}

function spawn(argv: string[], options: RunOptions) {
  return Bun.spawn(argv, {
    cwd: options.cwd,
    env: options.env ?? { PATH: DEFAULT_PATH },
    stdin: options.stdin === undefined ? "ignore" : new Blob([options.stdin]),
    stdout: "pipe",
    stderr: "pipe",
    // Its own process group, so a timeout kills whatever the command started as well.
    detached: true,
  });
}

function killGroup(proc: { pid: number; kill(signal?: number | NodeJS.Signals): void }): void {
  try {
    process.kill(-proc.pid, "SIGKILL");
  } catch {
    proc.kill("SIGKILL"); // the group is already gone; make sure the leader is too
  }
}

async function readCapped(
  stream: ReadableStream<Uint8Array>,
  max: number,
): Promise<{ text: string; truncated: boolean }> {
  const chunks: Uint8Array[] = [];
  let kept = 0;
  let truncated = false;
  const reader = stream.getReader();
  for (;;) {
    const { done, value: chunk } = await reader.read();
    if (done) break;
    const room = max - kept;
    if (room <= 0) {
      truncated = true;
      continue;
    }
    const part = chunk.byteLength > room ? chunk.subarray(0, room) : chunk;
    if (part !== chunk) truncated = true;
    chunks.push(part);
    kept += part.byteLength;
  }
  return { text: new TextDecoder().decode(Buffer.concat(chunks)), truncated };
}

function startError(command: string, cwd: string | undefined, err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT") {
    return cwd
      ? `cannot run ${command}: it was not found, or the directory ${cwd} does not exist`
      : `cannot run ${command}: command not found`;
  }
  if (code === "EACCES") return `cannot run ${command}: permission denied`;
  return `cannot run ${command}: ${err instanceof Error ? err.message : String(err)}`;
}
