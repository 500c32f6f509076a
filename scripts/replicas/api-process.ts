// API replicas run the way production runs them: `bun api/main-bun.ts` as a process of its own,
// reached over HTTP like any client would. The replica and restart tests build on these.
import { join } from "node:path";
import { toBase64Url } from "../../agent/protocol/encoding.ts";
import { generateKeyringEntry } from "../../api/auth/secrets.ts";
import { TEST_PASSWORD } from "../testing/auth.ts";
import { type ServerProcess, startServerProcess } from "../testing/process.ts";
import { randomAgentSigningKey } from "../testing/secrets.ts";
import { waitFor } from "../testing/wait.ts";

const ENTRY = join(import.meta.dir, "../../api/main-bun.ts");

/**
 * Secrets every replica of one installation shares: a session signed by one, a value encrypted by
 * one and a command signed by one must all verify on the others.
 */
export interface SharedSecrets extends Record<string, string> {
  CADDIS_SECRET_KEY: string;
  CADDIS_ENCRYPTION_KEYS: string;
  CADDIS_AGENT_SIGNING_KEY: string;
}

/** Fresh random SharedSecrets for one installation. */
export function sharedSecrets(): SharedSecrets {
  return {
    CADDIS_SECRET_KEY: toBase64Url(crypto.getRandomValues(new Uint8Array(48))),
    CADDIS_ENCRYPTION_KEYS: generateKeyringEntry(1),
    CADDIS_AGENT_SIGNING_KEY: randomAgentSigningKey(),
  };
}

/**
 * Starts one API process on port 0 with no embedded agent: on the server at `databaseUrl`, or on
 * the PGlite inside `dataDir` when there is none. Request budgets are off, so a test's bursts from
 * 127.0.0.1 are not what it measures.
 */
export function startReplica(options: {
  dataDir: string;
  secrets: SharedSecrets;
  databaseUrl?: string;
}): Promise<ServerProcess> {
  return startServerProcess([process.execPath, ENTRY], {
    ...options.secrets,
    CADDIS_DATA_DIR: options.dataDir,
    CADDIS_PORT: "0",
    CADDIS_EMBEDDED_AGENT: "off",
    CADDIS_RATE_LIMITS: "api=off;agent=off;auth=off",
    ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : {}),
  }, 60_000);
}

/** Calls a replica's JSON API as the bearer of `token`. */
export function callReplica(
  replica: ServerProcess,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<Response> {
  return fetch(`${replica.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** Reads a JSON answer, failing with the body when the status is not `status`. */
export async function expectJson<T>(res: Response, status: number): Promise<T> {
  if (res.status !== status) {
    throw new Error(`${res.url}: expected ${status}, got ${res.status}: ${await res.text()}`);
  }
  return await res.json() as T;
}

/**
 * Completes first-run setup with the one-time link the replica printed on its terminal, as an
 * operator would; returns the new superuser's access token.
 */
export async function setupThroughLink(replica: ServerProcess): Promise<string> {
  let token = "";
  await waitFor("the setup link on the replica's terminal", () => {
    token = /\/setup\?token=([A-Za-z0-9_-]+)/.exec(replica.output())?.[1] ?? "";
    return token !== "";
  });
  const res = await fetch(`${replica.url}/api/v1/setup`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      token,
      email: "root@example.com",
      password: TEST_PASSWORD,
      tenantName: "Acme",
    }),
  });
  return (await expectJson<{ accessToken: string }>(res, 201)).accessToken;
}

/** Adds a host through the API; returns its id and one-time enrolment token. */
export async function addHost(
  replica: ServerProcess,
  token: string,
  name: string,
): Promise<{ hostId: string; enrolmentToken: string }> {
  const created = await expectJson<{ host: { id: string }; enrolment: { token: string } }>(
    await callReplica(replica, token, "POST", "/hosts", { name }),
    201,
  );
  return { hostId: created.host.id, enrolmentToken: created.enrolment.token };
}
