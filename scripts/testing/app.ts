import type { Server } from "bun";
import { Writable } from "node:stream";
import type { Hono } from "hono";
import { getConnInfo, serveStatic } from "hono/bun";
import type { UpgradeWebSocket } from "hono/ws";
import { createApp } from "../../api/app.ts";
import { generateKeyringEntry } from "../../api/auth/secrets.ts";
import { buildAppDeps } from "../../api/build-deps.ts";
import { readConfig } from "../../api/config.ts";
import type { AppDeps, AppEnv } from "../../api/deps.ts";
import type { AgentHubOptions } from "../../api/hub/agent-hub.ts";
import { createLogger } from "../../api/log.ts";
import { startReadiness } from "../../api/readiness.ts";
import type { Database } from "../../db/client.ts";
import { openTestDatabase, type TestDatabase } from "./db.ts";
import { randomAgentSigningKey } from "./secrets.ts";

/** An app wired like production, on a test file's own database, with its log lines captured. */
export interface TestApp {
  app: Hono<AppEnv>;
  deps: AppDeps;
  database: TestDatabase;
  /** Every JSON log line written so far, raw, for asserting what never reaches a log. */
  logText(): string;
  close(): Promise<void>;
}

/** Builds a test app; pass `database` to share one across apps in the same file. */
export async function createTestApp(
  options: {
    database?: TestDatabase;
    env?: Record<string, string>;
    now?: () => Date;
    /** For apps served with agent sockets (scripts/testing/agent-server.ts). */
    agentSocket?: { upgradeWebSocket: UpgradeWebSocket; hub?: AgentHubOptions };
  } = {},
): Promise<TestApp> {
  const database = options.database ?? (await openTestDatabase());
  const config = readConfig({
    CADDIS_SECRET_KEY: crypto.randomUUID() + crypto.randomUUID(),
    CADDIS_ENCRYPTION_KEYS: generateKeyringEntry(1),
    CADDIS_AGENT_SIGNING_KEY: randomAgentSigningKey(),
    CADDIS_PORT: "0",
    CADDIS_LOG_LEVEL: "debug",
    ...options.env,
  });
  let captured = "";
  const sink = new Writable({
    write(chunk, _encoding, done) {
      captured += chunk.toString();
      done();
    },
  });
  const log = createLogger({ level: "debug" }, sink);
  const readiness = startReadiness(database as Database, log);
  await readiness.firstAttempt;
  const deps = await buildAppDeps({
    adapters: {
      runtime: { name: "bun", version: Bun.version },
      serveStatic,
      clientAddress: (c) => getConnInfo(c).remote.address,
      upgradeWebSocket: options.agentSocket?.upgradeWebSocket,
    },
    config,
    log,
    database,
    readiness,
    now: options.now,
    agentHub: options.agentSocket?.hub,
  });
  return {
    app: createApp(deps),
    deps,
    database,
    logText: () => captured,
    async close() {
      readiness.stop();
      if (!options.database) await database.close();
    },
  };
}

/** Serves a test app on a real loopback socket, so the client address is the TCP peer. */
export function serveTestApp(t: TestApp): { server: Server<undefined>; url: string } {
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: t.app.fetch });
  return { server, url: `http://127.0.0.1:${server.port}` };
}
