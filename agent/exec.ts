// The one place the agent starts processes. Always an argv array, never a shell, so no argument
// is ever re-parsed; the environment is passed whole, so the agent's own (which may hold an
// enrolment token) never leaks into a child; every run has a time limit and an output cap, and a
// long-running process (a site's worker) keeps only the last lines of its output.

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

/** How to start a long-running process such as a site's worker. */
export interface StartOptions {
  cwd?: string;
  /** The child's entire environment; nothing of the agent's own is added. */
  env: Record<string, string>;
  /** Run as this user and group (setuid/setgid; supplementary groups are dropped). */
  uid?: number;
  gid?: number;
  /** Lines of each of stdout and stderr kept for error reports; older lines are dropped. */
  keepLines?: number;
}

/** How a started process ended. */
export interface ProcessExit {
  /** Null when the process was killed by a signal. */
  exitCode: number | null;
  signal: string | null;
}

/** A running process started by `startProcess`. */
export interface ProcessHandle {
  pid: number;
  /** Settles once the process has exited; never rejects. */
  exited: Promise<ProcessExit>;
  /** SIGTERM to the process group, SIGKILL once `graceMs` has passed; resolves on exit. */
  stop(graceMs: number): Promise<ProcessExit>;
  /** The last lines the process wrote to each stream, oldest first. */
  tail(): { stdout: string[]; stderr: string[] };
}

/** Lines kept per stream when the caller does not say. */
export const DEFAULT_KEEP_LINES = 50;
/** A line longer than this is cut, so one endless line cannot grow the tail without bound. */
export const MAX_TAIL_LINE_CHARS = 2_000;

const DRAIN_AFTER_EXIT_MS = 1_000;

/** Starts `argv` in its own process group and returns at once; throws when it cannot start. */
export function startProcess(argv: string[], options: StartOptions): ProcessHandle {
  if (argv.length === 0 || !argv[0]) throw new Error("cannot start a process: no command given");
  let proc: ReturnType<typeof Bun.spawn>;
  try {
    proc = Bun.spawn(argv, {
      cwd: options.cwd,
      env: options.env,
      uid: options.uid,
      gid: options.gid,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      // Its own process group, so stopping it also stops whatever it started.
      detached: true,
    });
  } catch (err) {
    throw new Error(startError(argv[0], options.cwd, err));
  }
  const keep = options.keepLines ?? DEFAULT_KEEP_LINES;
  const stdout = new LineTail(keep);
  const stderr = new LineTail(keep);
  const drained = Promise.all([
    stdout.drain(proc.stdout as ReadableStream<Uint8Array>),
    stderr.drain(proc.stderr as ReadableStream<Uint8Array>),
  ]);
  const exited = proc.exited.then(async (exitCode): Promise<ProcessExit> => {
    // Whatever the leader started dies with it, so a restarted worker finds its port free.
    signalGroup(proc.pid, "SIGKILL");
    // Its last words (the crash message) are usually still in the pipes; a process that escaped
    // the group could hold them open for ever, so the wait is bounded.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      drained,
      new Promise((done) => timer = setTimeout(done, DRAIN_AFTER_EXIT_MS)),
    ]);
    clearTimeout(timer);
    return proc.signalCode
      ? { exitCode: null, signal: String(proc.signalCode) }
      : { exitCode, signal: null };
  });
  return {
    pid: proc.pid,
    exited,
    async stop(graceMs) {
      if (proc.exitCode !== null || proc.signalCode !== null) return await exited;
      signalGroup(proc.pid, "SIGTERM");
      const timer = setTimeout(() => signalGroup(proc.pid, "SIGKILL"), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
    tail: () => ({ stdout: stdout.lines(), stderr: stderr.lines() }),
  };
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone already.
  }
}

/** The last `keep` lines of a stream; reads it to the end so the child never blocks on a pipe. */
class LineTail {
  #kept: string[] = [];
  #partial = "";

  constructor(private readonly keep: number) {}

  async drain(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    const reader = stream.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      this.#add(decoder.decode(value, { stream: true }));
    }
    this.#add(decoder.decode());
    if (this.#partial) this.#push(this.#partial);
    this.#partial = "";
  }

  lines(): string[] {
    return this.#partial ? [...this.#kept, this.#partial].slice(-this.keep) : [...this.#kept];
  }

  #add(text: string): void {
    const parts = (this.#partial + text).split("\n");
    this.#partial = parts.pop()!.slice(0, MAX_TAIL_LINE_CHARS);
    for (const line of parts) this.#push(line);
  }

  #push(line: string): void {
    this.#kept.push(line.slice(0, MAX_TAIL_LINE_CHARS));
    if (this.#kept.length > this.keep) this.#kept.shift();
  }
}
