// A small client for Caddy's admin API on its unix socket. Caddy 2.6 answers 403 "host not
// allowed" unless the Host header is present and empty, so every request sends exactly that.
import { chmod } from "node:fs/promises";
import { MAX_CADDY_ERROR_CHARS } from "./caddy-check.ts";

// A load of thousands of sites provisions every one of them before Caddy answers.
const LOAD_TIMEOUT_MS = 60_000;
const QUERY_TIMEOUT_MS = 10_000;
const PROBE_TIMEOUT_MS = 2_000;

async function adminRequest(
  socketPath: string,
  path: string,
  init: { method: "GET" | "POST"; body?: string; contentType?: string; timeoutMs: number },
): Promise<Response> {
  const headers: Record<string, string> = { Host: "" };
  if (init.contentType !== undefined) headers["Content-Type"] = init.contentType;
  try {
    return await fetch(`http://caddy-admin${path}`, {
      method: init.method,
      headers,
      body: init.body,
      unix: socketPath,
      // A load restarts Caddy's admin server, which closes connections kept from before.
      keepalive: false,
      signal: AbortSignal.timeout(init.timeoutMs),
    });
  } catch (err) {
    const why = err instanceof Error ? (err as NodeJS.ErrnoException).code ?? err.message : err;
    throw new Error(`Caddy's admin socket ${socketPath} did not answer ${path}: ${why}`);
  }
}

/** Caddy's error text from a failed response: the `error` field of its JSON body, trimmed. */
async function refusal(response: Response, what: string): Promise<Error> {
  const body = (await response.text()).trim();
  let message = body;
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    if (typeof parsed.error === "string") message = parsed.error.trim();
  } catch {
    // Not JSON (a proxy or an older Caddy): the body itself is the best explanation there is.
  }
  const detail = message === "" ? `HTTP ${response.status}` : message;
  return new Error(`${what}: ${detail}`.slice(0, MAX_CADDY_ERROR_CHARS));
}

/** Replaces Caddy's whole running config with `text`; throws with Caddy's reason when refused. */
export function loadCaddyfile(socketPath: string, text: string): Promise<void> {
  return load(socketPath, text, "text/caddyfile");
}

/**
 * Replaces Caddy's whole running config with the JSON `caddy adapt` made of a Caddyfile: Caddy
 * then skips adapting it again, which is most of the time a load of thousands of sites takes.
 */
export function loadCaddyJson(socketPath: string, json: string): Promise<void> {
  return load(socketPath, json, "application/json");
}

async function load(socketPath: string, body: string, contentType: string): Promise<void> {
  const response = await adminRequest(socketPath, "/load", {
    method: "POST",
    body,
    contentType,
    timeoutMs: LOAD_TIMEOUT_MS,
  });
  if (!response.ok) throw await refusal(response, "Caddy refused the config");
  await response.body?.cancel();
}

/** Caddy's running config as JSON (null when it has none). */
export async function currentConfig(socketPath: string): Promise<unknown> {
  const response = await adminRequest(socketPath, "/config/", {
    method: "GET",
    timeoutMs: QUERY_TIMEOUT_MS,
  });
  if (!response.ok) throw await refusal(response, "Caddy did not return its config");
  return await response.json();
}

/** Whether a Caddy answers on the socket; never throws. */
export async function isCaddyUp(socketPath: string): Promise<boolean> {
  try {
    const response = await adminRequest(socketPath, "/config/", {
      method: "GET",
      timeoutMs: PROBE_TIMEOUT_MS,
    });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

/**
 * Narrows the admin socket to mode 0600. Caddy 2.6 creates it with the umask's mode and has no
 * option to choose one, so its owner calls this after Caddy starts listening; the socket stays
 * the same file across loads, and its 0700 directory already keeps others out meanwhile.
 */
export async function restrictAdminSocket(socketPath: string): Promise<void> {
  await chmod(socketPath, 0o600);
}
