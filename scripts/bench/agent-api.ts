// The API process of the agent benchmark: `bun api/main-bun.ts` on PGlite or a PostgreSQL
// server, with no embedded agent and budgets no run reaches, set up with a tenant admin and
// `hosts` enrolled hosts written into its database beforehand.
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { toBase64Url } from "../../agent/protocol/encoding.ts";
import { privateKeyFromSeed, publicKeyOf } from "../../agent/protocol/signing.ts";
import { type Database, openDatabase } from "../../db/client.ts";
import { serverClient } from "../../db/server-url.ts";
import { setupBenchUser } from "./auth.ts";
import { insertBenchHosts } from "./bench-hosts.ts";
import { setupBenchAdmin } from "./rbac.ts";
import {
  baseEnv,
  freePort,
  launch,
  outputTail,
  type ServerProcess,
  waitForOk,
} from "./server-process.ts";

// PGlite initialises a fresh data dir in ~5 s.
const START_TIMEOUT_MS = 60_000;
const UNLIMITED = 1_000_000_000;

/** A running API with its bench tenant and hosts. */
export interface AgentApi {
  server: ServerProcess;
  wsUrl: string;
  /** The raw public key agents pin (from the signing seed the bench chose). */
  apiPublicKey: string;
  /** A tenant admin's access token. */
  token: string;
  hostIds: string[];
  /** The PostgreSQL server's database, open in the bench for LISTEN; undefined on PGlite. */
  database: Database | undefined;
  /** Stops the server and closes the bench's database connection. */
  stop(): Promise<void>;
}

// BENCH_PROFILE_DIR=<dir> writes the API's CPU profile there (as Markdown too) when it stops.
function profileArgs(): string[] {
  const dir = process.env.BENCH_PROFILE_DIR;
  return dir ? ["--cpu-prof", "--cpu-prof-md", `--cpu-prof-dir=${dir}`] : [];
}

async function launchApi(
  root: string,
  databaseUrl: string | undefined,
  dataDir: string,
  signingKey: string,
): Promise<ServerProcess> {
  const port = await freePort();
  const server = launch(
    `caddis agent bench on ${databaseUrl ? "PostgreSQL" : "PGlite"}`,
    [join(root, "node_modules/.bin/bun"), ...profileArgs(), "api/main-bun.ts"],
    {
      cwd: root,
      port,
      env: {
        ...baseEnv(),
        CADDIS_HOST: "127.0.0.1",
        CADDIS_PORT: String(port),
        CADDIS_DATA_DIR: dataDir,
        CADDIS_ENV: "development",
        CADDIS_LOG_LEVEL: "warn",
        CADDIS_EMBEDDED_AGENT: "off",
        CADDIS_AGENT_SIGNING_KEY: signingKey,
        CADDIS_RATE_LIMITS: ["api", "auth", "pages", "agent"]
          .map((group) => `${group}=${UNLIMITED}/min`).join(";"),
        ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
      },
    },
  );
  try {
    await waitForOk(server, "/readyz", START_TIMEOUT_MS);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n  its output:\n${outputTail(server)}`);
  }
  return server;
}

/**
 * Starts the API on `databaseUrl` (PGlite in `dataDir` without one), completes setup, signs in a
 * tenant admin and inserts `hosts.count` enrolled hosts sharing `hosts.publicKey`. PGlite admits
 * one process only, so there the API is stopped for the insert and started again.
 */
export async function startAgentApi(
  root: string,
  databaseUrl: string | undefined,
  dataDir: string,
  hosts: { count: number; publicKey: string },
): Promise<AgentApi> {
  const seed = crypto.getRandomValues(new Uint8Array(32));
  const signingKey = toBase64Url(seed);
  const apiPublicKey = await publicKeyOf(privateKeyFromSeed(seed));
  let server = await launchApi(root, databaseUrl, dataDir, signingKey);
  const token = await setupBenchAdmin(server, await setupBenchUser(server));
  const me = await fetch(`${server.url}/api/v1/auth/me`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (!me.ok) throw new Error(`GET /auth/me: ${me.status} ${await me.text()}`);
  const { activeTenantId } = (await me.json()) as { activeTenantId: string };

  // A database that grew to this many hosts over months has statistics on them; one filled a
  // moment ago has none until autovacuum gets to it, and plans its queries as if for an empty
  // table (such as the host lookups scanning an index of every host of the tenant).
  const analyze = "analyze hosts";
  let database: Database | undefined;
  let hostIds: string[];
  if (databaseUrl) {
    database = await openDatabase({ url: databaseUrl });
    hostIds = await insertBenchHosts(database, activeTenantId, hosts.publicKey, hosts.count);
    const admin = serverClient(databaseUrl, { max: 1, onnotice: () => {} });
    await admin.unsafe(analyze).finally(() => admin.end());
  } else {
    await server.stop();
    const pglite = new PGlite(join(dataDir, "pglite"));
    const embedded = await openDatabase({ pglite });
    try {
      hostIds = await insertBenchHosts(embedded, activeTenantId, hosts.publicKey, hosts.count);
      await pglite.exec(analyze);
    } finally {
      await embedded.close();
    }
    server = await launchApi(root, databaseUrl, dataDir, signingKey);
  }
  const api = server;
  return {
    server: api,
    wsUrl: `${api.url.replace(/^http/, "ws")}/api/v1/agent/ws`,
    apiPublicKey,
    token,
    hostIds,
    database,
    async stop() {
      await api.stop();
      await database?.close();
    },
  };
}
