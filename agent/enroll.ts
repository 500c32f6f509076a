// Enrolment: trade a one-time token and a fresh public key for a host id and the API's public key.
// The token is a secret: it goes in the request body only, never into a log line or an error.
import { ENROL_PATH, EnrolRequest, EnrolResponse } from "./protocol/enrolment.ts";
import { generateSigningKeyPair } from "./protocol/signing.ts";
import {
  type AgentState,
  readStateFile,
  stateFileExists,
  stateFilePath,
  writeStateFile,
} from "./state-file.ts";

/** What enrolment needs; `fetch` is injectable for tests. */
export interface EnrolOptions {
  apiUrl: string;
  token: string;
  stateDir: string;
  hostname: string;
  /** Replace an existing enrolment instead of refusing. */
  force?: boolean;
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
  now?: () => Date;
}

const MAX_ERROR_BODY = 2000;

/** Enrols this host with the API and writes the state file; returns what was written. */
export async function enrollAgent(options: EnrolOptions): Promise<AgentState> {
  if (!options.force && (await stateFileExists(options.stateDir))) {
    const existing = await readStateFile(options.stateDir).then(
      (s) => ` as host ${s.hostId}`,
      () => "",
    );
    throw new Error(
      `this agent is already enrolled${existing} (${stateFilePath(options.stateDir)}); ` +
        "pass --force to enrol again and replace it",
    );
  }
  const keys = await generateSigningKeyPair();
  const request = EnrolRequest.safeParse({
    token: options.token,
    publicKey: keys.publicKey,
    hostname: options.hostname.slice(0, 255) || "unknown",
  });
  if (!request.success) {
    const field = request.error.issues[0]?.path.join(".") ?? "request";
    throw new Error(`cannot enrol: ${field} ${request.error.issues[0]?.message ?? "is invalid"}`);
  }
  const apiUrl = options.apiUrl.replace(/\/+$/, "");
  const url = `${apiUrl}${ENROL_PATH}`;
  const doFetch = options.fetch ?? ((target: string, init: RequestInit) => fetch(target, init));
  let response: Response;
  try {
    response = await doFetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify(request.data),
      redirect: "error",
    });
  } catch (err) {
    throw new Error(`cannot reach the API at ${url}: ${hide(errorText(err), options.token)}`);
  }
  const text = await response.text().catch(() => "");
  if (!response.ok) {
    const detail = hide(apiMessage(text), options.token);
    throw new Error(`the API refused the enrolment (HTTP ${response.status}): ${detail}`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`the API answered the enrolment with something that is not JSON`);
  }
  const parsed = EnrolResponse.safeParse(body);
  if (!parsed.success) {
    throw new Error(`the API answered the enrolment with an unexpected shape`);
  }
  const state: AgentState = {
    hostId: parsed.data.hostId,
    apiUrl,
    wsPath: parsed.data.wsPath,
    privateKey: keys.privateKey,
    publicKey: keys.publicKey,
    apiPublicKey: parsed.data.apiPublicKey,
    enrolledAt: (options.now?.() ?? new Date()).toISOString(),
  };
  await writeStateFile(options.stateDir, state);
  return state;
}

// The API's error shape is {error: {message}}; anything else is shown trimmed.
function apiMessage(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown } };
    if (typeof body.error?.message === "string") return body.error.message.slice(0, MAX_ERROR_BODY);
  } catch {
    // not JSON: fall through to the raw text
  }
  return text.trim().slice(0, MAX_ERROR_BODY) || "no details given";
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// Belt and braces: a server or a network layer that echoes the token must not make us print it.
function hide(text: string, token: string): string {
  return token ? text.replaceAll(token, "[redacted]") : text;
}
