// Entry point on Bun: the only API file (with main-deno.ts) that may use runtime globals.
import { createBunWebSocket, getConnInfo, serveStatic } from "hono/bun";
import { MAX_FRAME_BYTES } from "../agent/protocol/version.ts";
import { startEmbeddedAgent } from "./embedded-agent.ts";
import { describeStartFailure, startCaddis } from "./start.ts";

const { upgradeWebSocket, websocket } = createBunWebSocket();

let started;
try {
  started = await startCaddis(process.env, {
    runtime: { name: "bun", version: Bun.version },
    serveStatic,
    clientAddress: (c) => getConnInfo(c).remote.address,
    upgradeWebSocket,
  });
} catch (err) {
  console.error(describeStartFailure(err));
  process.exit(1);
}

const { app, config, deps, log, shutdown } = started;
const server = Bun.serve({
  hostname: config.host,
  port: config.port,
  fetch: app.fetch,
  // Agent frames over 1 MiB are refused by the hub with 1009; the runtime drops far larger ones
  // before buffering them.
  websocket: { ...websocket, maxPayloadLength: 2 * MAX_FRAME_BYTES },
  // The app enforces its own (smaller) limit with a clear 413; this only bounds the runtime.
  maxRequestBodySize: config.bodyLimitBytes + 64 * 1024,
});
log.info(
  { url: `http://${server.hostname}:${server.port}` },
  `Caddis is listening on http://${server.hostname}:${server.port}`,
);

const embeddedAgent = config.embeddedAgent
  ? startEmbeddedAgent(deps, {
    apiUrl: `http://${loopbackAddress(server.hostname ?? config.host)}:${server.port}`,
    spawn: () => new Worker(new URL("../agent/embedded-worker.ts", import.meta.url).href),
    httpPort: config.agentHttpPort,
  })
  : undefined;

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, async () => {
    log.info({ signal }, "shutting down");
    await embeddedAgent?.stop();
    // Agent sockets would keep a graceful stop waiting: close them first.
    await deps.agentHub.stop();
    await server.stop();
    await shutdown();
    process.exit(0);
  });
}

// The embedded agent dials this process: a wildcard listen address is reached through loopback.
function loopbackAddress(host: string): string {
  if (host === "0.0.0.0" || host === "") return "127.0.0.1";
  if (host === "::") return "[::1]";
  return host.includes(":") ? `[${host}]` : host;
}
