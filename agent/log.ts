// A small JSON-lines logger to stderr. The agent logs little, so pino's machinery is not needed;
// what matters is that no secret ever reaches a line, whatever a caller passes in.

/** Log levels, least to most severe. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Structured fields attached to a log line. */
export type LogFields = Record<string, unknown>;

/** The agent's logger: one JSON object per line. */
export interface Log {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Log;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

// Enrolment tokens and private keys are the agent's only secrets; the pattern is wider on purpose.
const SECRET_KEY = /token|secret|password|passphrase|private[-_]?key|credential/i;
const MAX_DEPTH = 6;

/** A copy of `value` with every secret-named field replaced, at any depth. */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (depth > MAX_DEPTH) return "[depth limit]";
  if (value instanceof Error) return { type: value.name, message: value.message };
  if (Array.isArray(value)) return value.map((item) => redactSecrets(item, depth + 1));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      out[key] = SECRET_KEY.test(key) ? "[redacted]" : redactSecrets(inner, depth + 1);
    }
    return out;
  }
  return value;
}

/** Builds a logger; tests pass `write` to capture lines instead of writing to stderr. */
export function createLog(options: {
  name: string;
  level?: LogLevel;
  write?: (line: string) => void;
  fields?: LogFields;
}): Log {
  const threshold = RANK[options.level ?? "info"];
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const base = options.fields ?? {};
  const emit = (level: LogLevel, message: string, fields?: LogFields) => {
    if (RANK[level] < threshold) return;
    const record = {
      time: new Date().toISOString(),
      level,
      name: options.name,
      msg: message,
      ...(redactSecrets({ ...base, ...fields }) as LogFields),
    };
    write(`${JSON.stringify(record)}\n`);
  };
  return {
    debug: (message, fields) => emit("debug", message, fields),
    info: (message, fields) => emit("info", message, fields),
    warn: (message, fields) => emit("warn", message, fields),
    error: (message, fields) => emit("error", message, fields),
    child: (fields) => createLog({ ...options, fields: { ...base, ...fields } }),
  };
}

/** A logger that drops everything, for tests that do not read the log. */
export const silentLog: Log = createLog({ name: "silent", write: () => {} });
