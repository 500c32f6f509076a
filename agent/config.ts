// Pure parsing of the agent's command line and environment into a typed config. Every problem is
// collected, so one run of the CLI reports them all. Secrets are never accepted on argv.
import { ENROLMENT_TOKEN_PATTERN } from "./protocol/enrolment.ts";
import type { AgentMode } from "./protocol/host-report.ts";
import { DEFAULT_PATH } from "./exec.ts";

/** Where the agent keeps its state unless CADDIS_AGENT_DIR says otherwise. */
export const DEFAULT_AGENT_DIR = "/var/lib/caddis-agent";

/** The port Caddy serves sites on over plain HTTP in sandbox mode, unless configured. */
export const DEFAULT_SANDBOX_HTTP_PORT = 8088;

/** `enroll`: trade a one-time token for an identity. */
export interface EnrolConfig {
  command: "enroll";
  apiUrl: string;
  /** From CADDIS_ENROL_TOKEN; null when the token comes from `tokenFile`. */
  token: string | null;
  tokenFile: string | null;
  force: boolean;
  stateDir: string;
}

/** `run`: connect and serve. */
export interface RunConfig {
  command: "run";
  stateDir: string;
  mode: AgentMode;
  modeReason: string | null;
  /** PATH used to find tools. */
  toolPath: string;
  /** Caddy's HTTP port in sandbox mode (CADDIS_AGENT_HTTP_PORT); system mode serves on 80/443. */
  httpPort: number;
}

/** A parsed invocation. */
export type AgentConfig = EnrolConfig | RunConfig | { command: "help" };

/** The parse outcome: a config, or every problem found. */
export type ConfigResult = { ok: true; config: AgentConfig } | { ok: false; problems: string[] };

/** What `caddis-agent --help` prints. */
export const USAGE = `usage:
  CADDIS_ENROL_TOKEN=<token> bun agent/main.ts enroll --api <url> [--force]
  bun agent/main.ts enroll --api <url> --token-file <path> [--force]
  bun agent/main.ts run
environment: CADDIS_AGENT_DIR (default ${DEFAULT_AGENT_DIR}), CADDIS_AGENT_MODE (system|sandbox),
  CADDIS_AGENT_HTTP_PORT (sites' HTTP port in sandbox mode, default ${DEFAULT_SANDBOX_HTTP_PORT})`;

const TOKEN_REFUSED = "--token is not accepted: a secret on the command line is visible to every " +
  "user in the process list; set CADDIS_ENROL_TOKEN instead (or pass --token-file <path>)";

/** Parses argv (without the runtime and script) and the environment. */
export function parseAgentConfig(input: {
  argv: string[];
  env: Record<string, string | undefined>;
  isRoot: boolean;
}): ConfigResult {
  const problems: string[] = [];
  const [command, ...rest] = input.argv;
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    return { ok: true, config: { command: "help" } };
  }
  if (command !== "enroll" && command !== "run") {
    return { ok: false, problems: [`unknown command "${command}"; expected enroll or run`] };
  }
  const flags = readFlags(rest, command === "enroll" ? ["--api", "--token-file"] : [], problems);
  const stateDir = input.env.CADDIS_AGENT_DIR || DEFAULT_AGENT_DIR;
  if (!stateDir.startsWith("/")) problems.push("CADDIS_AGENT_DIR must be an absolute path");
  const modeText = input.env.CADDIS_AGENT_MODE || "system";
  if (modeText !== "system" && modeText !== "sandbox") {
    problems.push(`CADDIS_AGENT_MODE must be system or sandbox, not "${modeText}"`);
  }

  if (command === "run") {
    if (flags.force) problems.push("--force only applies to enroll");
    const httpPort = parseHttpPort(input.env.CADDIS_AGENT_HTTP_PORT);
    if (typeof httpPort === "string") problems.push(httpPort);
    if (problems.length > 0 || typeof httpPort === "string") return { ok: false, problems };
    const { mode, modeReason } = resolveMode(modeText as AgentMode, input.isRoot);
    const toolPath = input.env.PATH || DEFAULT_PATH;
    return { ok: true, config: { command, stateDir, mode, modeReason, toolPath, httpPort } };
  }

  const apiUrl = checkApiUrl(flags.values.get("--api"), problems);
  const token = input.env.CADDIS_ENROL_TOKEN || null;
  const tokenFile = flags.values.get("--token-file") ?? null;
  if (token && tokenFile) {
    problems.push("give the enrolment token in CADDIS_ENROL_TOKEN or with --token-file, not both");
  } else if (!token && !tokenFile && !flags.tokenRefused) {
    problems.push("enroll needs the one-time token: set CADDIS_ENROL_TOKEN or pass --token-file");
  }
  if (token && !ENROLMENT_TOKEN_PATTERN.test(token)) {
    problems.push(
      'CADDIS_ENROL_TOKEN is not an enrolment token (expected "cde_" and 52 characters)',
    );
  }
  if (problems.length > 0 || apiUrl === null) return { ok: false, problems };
  return {
    ok: true,
    config: { command, apiUrl, token, tokenFile, force: flags.force, stateDir },
  };
}

/**
 * CADDIS_AGENT_HTTP_PORT: an unprivileged port (1024–65535), 8088 when unset; a problem text
 * when it is anything else.
 */
export function parseHttpPort(text: string | undefined): number | string {
  if (text === undefined || text === "") return DEFAULT_SANDBOX_HTTP_PORT;
  const port = /^[0-9]{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (port >= 1024 && port <= 65_535) return port;
  return `CADDIS_AGENT_HTTP_PORT must be a port from 1024 to 65535, not "${text.slice(0, 20)}"`;
}

/** System mode only as root and when asked; the reason is shown in the panel otherwise. */
export function resolveMode(
  wanted: AgentMode,
  isRoot: boolean,
): { mode: AgentMode; modeReason: string | null } {
  if (!isRoot) return { mode: "sandbox", modeReason: "not running as root" };
  if (wanted === "sandbox") return { mode: "sandbox", modeReason: "CADDIS_AGENT_MODE=sandbox" };
  return { mode: "system", modeReason: null };
}

function readFlags(args: string[], valued: string[], problems: string[]) {
  const values = new Map<string, string>();
  let force = false;
  let tokenRefused = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const [name, inline] = arg.startsWith("--") && arg.includes("=")
      ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
      : [arg, undefined];
    if (name === "--token") {
      // Skip its value too, so the secret is not echoed back as an "unexpected argument".
      if (inline === undefined) i++;
      if (!tokenRefused) problems.push(TOKEN_REFUSED);
      tokenRefused = true;
    } else if (name === "--force" && inline === undefined) {
      force = true;
    } else if (valued.includes(name)) {
      const value = inline ?? args[++i];
      if (value === undefined || value === "") problems.push(`${name} needs a value`);
      else values.set(name, value);
    } else {
      problems.push(`unexpected argument "${name.slice(0, 40)}"`);
    }
  }
  return { values, force, tokenRefused };
}

function checkApiUrl(text: string | undefined, problems: string[]): string | null {
  if (!text) {
    problems.push("enroll needs --api <url>, the address of the Caddis panel");
    return null;
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    problems.push("--api is not a URL");
    return null;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    problems.push("--api must be an http:// or https:// URL");
  } else if (url.username || url.password || url.search || url.hash) {
    problems.push("--api must not carry credentials, a query or a fragment");
  } else {
    return url.href.replace(/\/+$/, "");
  }
  return null;
}
