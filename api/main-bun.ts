// Entry point on Bun: the only API file (with main-deno.ts) that may use runtime globals.
import { createBunWebSocket, getConnInfo, serveStatic } from "hono/bun";
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

const { app, config, log, shutdown } = started;
const server = Bun.serve({
  hostname: config.host,
  port: config.port,
  fetch: app.fetch,
  websocket,
  // The app enforces its own (smaller) limit with a clear 413; this only bounds the runtime.
  maxRequestBodySize: config.bodyLimitBytes + 64 * 1024,
});
log.info(
  { url: `http://${server.hostname}:${server.port}` },
  `Caddis is listening on http://${server.hostname}:${server.port}`,
);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, async () => {
    log.info({ signal }, "shutting down");
    await server.stop();
    await shutdown();
    process.exit(0);
  });
}
