import pino, { type DestinationStream, type Logger } from "pino";

export type { Logger };

/** Keys whose values are always replaced, at any depth, before a log line is written. */
const SECRET_KEY_PATTERN =
  /pass(word|phrase)?|secret|token|api[-_]?key|private[-_]?key|encryption[-_]?keys?|cookie|authorization|credential|otp|totp|backup[-_]?code|^key$/i;

const REDACTED = "[redacted]";
const MAX_DEPTH = 8;

/** Returns a copy of `value` with every secret-named field replaced, so no log line leaks one. */
export function scrubSecrets(value: unknown, depth = 0): unknown {
  if (depth > MAX_DEPTH) return "[depth limit]";
  if (Array.isArray(value)) return value.map((item) => scrubSecrets(item, depth + 1));
  if (value instanceof Error) {
    return {
      type: value.name,
      message: scrubQueryParams(value.message),
      stack: value.stack && scrubQueryParams(value.stack),
      cause: value.cause === undefined ? undefined : scrubSecrets(value.cause, depth + 1),
    };
  }
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      out[key] = SECRET_KEY_PATTERN.test(key) ? REDACTED : scrubSecrets(inner, depth + 1);
    }
    return out;
  }
  if (typeof value === "string") return scrubUrlPassword(value);
  return value;
}

/**
 * Drizzle's "Failed query" errors append every bound parameter, which can be password hashes,
 * token hashes or ciphertexts; the SQL text is kept, the values are not.
 */
function scrubQueryParams(text: string): string {
  return text.replace(/\nparams: [^\n]*/g, `\nparams: ${REDACTED}`);
}

/** Hides the password in a connection string such as `postgres://user:pw@host/db`. */
export function scrubUrlPassword(text: string): string {
  return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@\s]*@/gi, `$1${REDACTED}@`);
}

/** Builds the JSON logger; tests pass a destination to read what would be written. */
export function createLogger(
  options: { level: string; name?: string },
  destination?: DestinationStream,
): Logger {
  return pino(
    {
      level: options.level,
      name: options.name ?? "caddis",
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => scrubSecrets(object) as Record<string, unknown>,
      },
      hooks: {
        // Messages are scrubbed too: a URL with a password in it must not slip through.
        logMethod(args, method) {
          method.apply(
            this,
            args.map((a) => (typeof a === "string" ? scrubUrlPassword(a) : a)) as Parameters<
              typeof method
            >,
          );
        },
      },
    },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
