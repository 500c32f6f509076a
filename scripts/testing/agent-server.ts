import { createBunWebSocket } from "hono/bun";
import { AGENT_SOCKET_PATH } from "../../agent/protocol/enrolment.ts";
import { MAX_FRAME_BYTES } from "../../agent/protocol/version.ts";
import type { AgentHubOptions } from "../../api/hub/agent-hub.ts";
import { createTestApp, type TestApp } from "./app.ts";
import type { TestDatabase } from "./db.ts";

/** A test app served on a real loopback socket with its agent hub running. */
export interface AgentServer {
  /** `http://127.0.0.1:<port>` */
  baseUrl: string;
  /** `ws://127.0.0.1:<port>/api/v1/agent/ws` */
  wsUrl: string;
  testApp: TestApp;
  /** Stops the hub, then the server, then the app (and its database unless it was passed in). */
  close(): Promise<void>;
}

/**
 * Starts an app that accepts agent sockets, on port 0. Pass `database` to run several API
 * "replicas" on one database, `hub` to shorten timings, `env` for the config (replicas that
 * must verify each other's commands share CADDIS_AGENT_SIGNING_KEY).
 */
export async function startAgentServer(
  options: { database?: TestDatabase; hub?: AgentHubOptions; env?: Record<string, string> } = {},
): Promise<AgentServer> {
  const { upgradeWebSocket, websocket } = createBunWebSocket();
  const testApp = await createTestApp({
    database: options.database,
    // Simulated agents all dial from 127.0.0.1; the per-address API budget is not under test.
    env: { CADDIS_RATE_LIMITS: "api=off", ...options.env },
    agentSocket: { upgradeWebSocket, hub: options.hub },
  });
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: testApp.app.fetch,
    // As api/main-bun.ts: frames a little over the limit reach the hub, which closes with 1009.
    websocket: { ...websocket, maxPayloadLength: 2 * MAX_FRAME_BYTES },
  });
  await testApp.deps.agentHub.start();
  const baseUrl = `http://127.0.0.1:${server.port}`;
  return {
    baseUrl,
    wsUrl: `ws://127.0.0.1:${server.port}${AGENT_SOCKET_PATH}`,
    testApp,
    async close() {
      await testApp.deps.agentHub.stop();
      await server.stop(true);
      await testApp.close();
    },
  };
}
