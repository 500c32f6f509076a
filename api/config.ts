import { z } from "zod";
import { WORKER_PORT_BOUNDS } from "../agent/protocol/sites.ts";
import { fromBase64Url } from "../agent/protocol/encoding.ts";
import { AGENT_SIGNING_SEED_BYTES } from "../agent/protocol/signing.ts";
import { DEFAULT_POOL_SIZE } from "../db/client.ts";
import { serverTarget, ServerUrlError } from "../db/server-url.ts";
import { type Keyring, parseKeyring } from "./auth/secrets.ts";
import { parseTrustedProxies, type TrustedProxies } from "./client-ip.ts";
import { parseRateLimits, type RateLimits } from "./rate-limit-config.ts";

/** Values shipped in docs and examples; a production start refuses them as secrets. */
export const EXAMPLE_SECRETS: readonly string[] = [
  "change-me-to-a-long-random-string-of-32-bytes-or-more",
  "1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
];

const MIN_SECRET_BYTES = 32;

/** Environment variables whose values are secret: never logged, never echoed in an error. */
export const SECRET_ENV_NAMES = [
  "CADDIS_SECRET_KEY",
  "CADDIS_ENCRYPTION_KEYS",
  "CADDIS_AGENT_SIGNING_KEY",
] as const;

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

const EnvSchema = z.object({
  CADDIS_HOST: z.string().min(1).default("127.0.0.1"),
  CADDIS_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  CADDIS_PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  CADDIS_DATA_DIR: z.string().min(1).default("./data"),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, "must start with postgres://").optional(),
  CADDIS_DB_POOL_SIZE: z.coerce.number().int().min(2).max(100).default(DEFAULT_POOL_SIZE),
  CADDIS_SECRET_KEY: z.string().optional(),
  CADDIS_ENCRYPTION_KEYS: z.string().optional(),
  CADDIS_ENV: z.enum(["development", "production"]).default("development"),
  CADDIS_LOG_LEVEL: z.enum(LOG_LEVELS).default("info"),
  CADDIS_TRUSTED_PROXIES: z.string().default(""),
  CADDIS_BODY_LIMIT: z.coerce.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
  CADDIS_RATE_LIMIT_STORE: z.enum(["memory", "postgres"]).default("memory"),
  CADDIS_EMBEDDED_AGENT: z.enum(["on", "off"]).optional(),
  CADDIS_AGENT_HTTP_PORT: z.coerce.number().int().min(1024).max(65535).optional(),
  CADDIS_WORKER_PORTS: z.string().regex(/^\d{1,5}-\d{1,5}$/, "must look like 20000-29999")
    .default("20000-29999"),
});

/** Validated settings, read once at start; nothing else reads the environment. */
export interface Config {
  host: string;
  port: number;
  publicUrl: string;
  dataDir: string;
  databaseUrl: string | undefined;
  /** Connections to the PostgreSQL server (CADDIS_DB_POOL_SIZE; see DEFAULT_POOL_SIZE). */
  databasePoolSize: number;
  env: "development" | "production";
  logLevel: (typeof LOG_LEVELS)[number];
  bodyLimitBytes: number;
  /** Proxies (Caddy) whose `X-Forwarded-For` is believed; empty: only the socket peer counts. */
  trustedProxies: TrustedProxies;
  /**
   * Where request counts live: `memory` for a single instance (the default), `postgres` when
   * several API replicas must share one budget per client.
   */
  rateLimitStore: "memory" | "postgres";
  /** Request budgets per endpoint group (see rate-limit-config.ts for `CADDIS_RATE_LIMITS`). */
  rateLimits: RateLimits;
  /** JWT signing keys (HS256), newest first: the first signs, all verify during an overlap. */
  secretKeys: Uint8Array[];
  /** Encryption keys, newest first. */
  keyring: Keyring;
  /** Seed of the Ed25519 key that signs agent commands (CADDIS_AGENT_SIGNING_KEY, 32 bytes). */
  agentSigningSeed: Uint8Array;
  /**
   * Whether the Bun entry runs an agent for this machine in a Worker (CADDIS_EMBEDDED_AGENT; on
   * by default in development, off in production).
   */
  embeddedAgent: boolean;
  /** The embedded agent's HTTP port for sites (CADDIS_AGENT_HTTP_PORT; the agent's default). */
  agentHttpPort: number | undefined;
  /** The range site worker ports are allocated from on every host, in pairs (CADDIS_WORKER_PORTS). */
  workerPorts: { first: number; last: number };
}

/** Thrown with every configuration problem at once, so one restart fixes them all. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

/** Parses and checks the environment; throws ConfigError listing every problem found. */
export function readConfig(env: Record<string, string | undefined>): Config {
  const problems: string[] = [];
  const parsed = EnvSchema.safeParse(blankToUndefined(env));
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      // Zod messages describe the rule, never the rejected value, so secrets stay out.
      problems.push(`${issue.path.join(".")}: ${issue.message}`);
    }
  }
  const raw = parsed.success ? parsed.data : undefined;
  const production = env.CADDIS_ENV === "production";

  const secretKeys = checkSecretKeys(env.CADDIS_SECRET_KEY, production, problems);
  const keyring = checkKeyring(env.CADDIS_ENCRYPTION_KEYS, production, problems);
  const agentSigningSeed = checkAgentSigningKey(env.CADDIS_AGENT_SIGNING_KEY, production, problems);
  let trustedProxies: TrustedProxies | undefined;
  try {
    trustedProxies = parseTrustedProxies(raw?.CADDIS_TRUSTED_PROXIES ?? "");
  } catch (err) {
    problems.push(`CADDIS_TRUSTED_PROXIES: ${(err as Error).message}`);
  }
  // Read directly, not through the schema, so its problems show even when another variable fails.
  const rateLimits = parseRateLimits(env.CADDIS_RATE_LIMITS ?? "");
  for (const problem of rateLimits.problems) problems.push(`CADDIS_RATE_LIMITS: ${problem}`);
  const workerPorts = raw ? checkWorkerPorts(raw.CADDIS_WORKER_PORTS, problems) : undefined;
  if (raw?.DATABASE_URL) checkDatabaseUrl(raw.DATABASE_URL, problems);
  if (
    problems.length > 0 || !raw || !secretKeys || !keyring || !trustedProxies ||
    !rateLimits.limits || !agentSigningSeed || !workerPorts
  ) {
    throw new ConfigError(problems);
  }

  return {
    host: raw.CADDIS_HOST,
    port: raw.CADDIS_PORT,
    publicUrl: (raw.CADDIS_PUBLIC_URL ?? `http://${urlHost(raw.CADDIS_HOST)}:${raw.CADDIS_PORT}`)
      .replace(/\/+$/, ""),
    dataDir: raw.CADDIS_DATA_DIR,
    databaseUrl: raw.DATABASE_URL,
    databasePoolSize: raw.CADDIS_DB_POOL_SIZE,
    env: raw.CADDIS_ENV,
    logLevel: raw.CADDIS_LOG_LEVEL,
    bodyLimitBytes: raw.CADDIS_BODY_LIMIT,
    trustedProxies,
    rateLimitStore: raw.CADDIS_RATE_LIMIT_STORE,
    rateLimits: rateLimits.limits,
    secretKeys,
    keyring,
    agentSigningSeed,
    embeddedAgent: (raw.CADDIS_EMBEDDED_AGENT ?? (production ? "off" : "on")) === "on",
    agentHttpPort: raw.CADDIS_AGENT_HTTP_PORT,
    workerPorts,
  };
}

// A URL postgres-js would misread (a socket directory it cannot use) fails here, at start, with
// what to write instead; the message never repeats the URL, which may hold a password.
function checkDatabaseUrl(value: string, problems: string[]) {
  try {
    serverTarget(value);
  } catch (err) {
    if (!(err instanceof ServerUrlError)) throw err;
    problems.push(`DATABASE_URL: ${err.message}`);
  }
}

// Ports are handed out in pairs starting on an even port (a restart uses the second), so the
// range must hold at least one pair inside the bounds a worker port may take.
function checkWorkerPorts(value: string, problems: string[]) {
  const [first, last] = value.split("-").map(Number) as [number, number];
  const { min, max } = WORKER_PORT_BOUNDS;
  if (first < min || last > max + 1 || first > last) {
    problems.push(`CADDIS_WORKER_PORTS: must be a range within ${min}-${max + 1}, low to high`);
    return undefined;
  }
  const firstPair = first + (first % 2);
  if (firstPair + 1 > last) {
    problems.push("CADDIS_WORKER_PORTS: must hold at least one pair of ports (even, even + 1)");
    return undefined;
  }
  return { first: firstPair, last };
}

// Comma-separated, newest first, so a signing key can rotate: put the new one first, and drop the
// old one once every token it signed has expired (30 minutes).
function checkSecretKeys(value: string | undefined, production: boolean, problems: string[]) {
  if (!value) {
    problems.push(
      production
        ? "CADDIS_SECRET_KEY: required in production (at least 32 random bytes)"
        : "CADDIS_SECRET_KEY: missing (development secrets were not generated)",
    );
    return undefined;
  }
  const entries = value.split(",").map((entry) => entry.trim());
  const keys: Uint8Array[] = [];
  entries.forEach((entry, index) => {
    const which = entries.length > 1 ? `CADDIS_SECRET_KEY entry ${index + 1}` : "CADDIS_SECRET_KEY";
    const bytes = new TextEncoder().encode(entry);
    if (bytes.length === 0) problems.push(`${which}: is empty`);
    if (production && bytes.length < MIN_SECRET_BYTES) {
      problems.push(`${which}: must be at least ${MIN_SECRET_BYTES} bytes in production`);
    }
    if (production && looksLikeExample(entry)) {
      problems.push(`${which}: is an example value; generate a random one`);
    }
    if (entries.indexOf(entry) !== index) problems.push(`${which}: repeats an earlier key`);
    keys.push(bytes);
  });
  return keys;
}

function checkKeyring(value: string | undefined, production: boolean, problems: string[]) {
  if (!value) {
    problems.push(
      production
        ? "CADDIS_ENCRYPTION_KEYS: required in production (<version>:<base64 32-byte key>)"
        : "CADDIS_ENCRYPTION_KEYS: missing (development secrets were not generated)",
    );
    return undefined;
  }
  if (production && value.split(",").some((entry) => looksLikeExample(entry.trim()))) {
    problems.push("CADDIS_ENCRYPTION_KEYS: contains an example key; generate a random one");
  }
  try {
    return parseKeyring(value);
  } catch (err) {
    problems.push((err as Error).message);
    return undefined;
  }
}

// The command-signing key is a seed of exactly 32 bytes (base64url), from which the Ed25519 key
// pair is derived; agents pin its public half at enrolment, so rotating it means re-enrolling.
function checkAgentSigningKey(value: string | undefined, production: boolean, problems: string[]) {
  if (!value) {
    problems.push(
      production
        ? "CADDIS_AGENT_SIGNING_KEY: required in production (32 random bytes, base64url)"
        : "CADDIS_AGENT_SIGNING_KEY: missing (development secrets were not generated)",
    );
    return undefined;
  }
  let seed: Uint8Array | undefined;
  try {
    seed = fromBase64Url(value.trim());
  } catch {
    seed = undefined;
  }
  if (seed?.length !== AGENT_SIGNING_SEED_BYTES) {
    problems.push(
      `CADDIS_AGENT_SIGNING_KEY: must be ${AGENT_SIGNING_SEED_BYTES} bytes encoded as base64url`,
    );
    return undefined;
  }
  if (production && looksLikeExample(value.trim())) {
    problems.push("CADDIS_AGENT_SIGNING_KEY: is an example value; generate a random one");
  }
  return seed;
}

function looksLikeExample(value: string): boolean {
  if (EXAMPLE_SECRETS.includes(value)) return true;
  // A key of one repeated character ("aaaa…", "0000…") is a placeholder, not a secret.
  const body = value.includes(":") ? value.slice(value.indexOf(":") + 1) : value;
  return /^(.)\1*=*$/.test(body) || /change.?me|example|placeholder/i.test(value);
}

function blankToUndefined(env: Record<string, string | undefined>) {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === "" ? undefined : v]));
}

function urlHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}
