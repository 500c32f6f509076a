// Entry point on Deno: the only API file (with main-bun.ts) that may use runtime globals.
import { getConnInfo, serveStatic, upgradeWebSocket } from "hono/deno";
import { describeStartFailure, startCaddis } from "./start.ts";

let started;
try {
  started = await startCaddis(Deno.env.toObject(), {
    runtime: { name: "deno", version: Deno.version.deno },
    serveStatic,
    clientAddress: (c) => getConnInfo(c).remote.address,
    upgradeWebSocket,
  });
} catch (err) {
  console.error(describeStartFailure(err));
  Deno.exit(1);
}

const { app, config, log, shutdown } = started;
if (config.embeddedAgent) {
  // The agent is a Bun program; on Deno it runs as its own process (`bun agent/main.ts run`).
  log.warn("The embedded agent runs only when the API runs on Bun; start the agent separately");
}
const server = Deno.serve({
  hostname: config.host,
  port: config.port,
  onListen: ({ hostname, port }) => {
    log.info(
      { url: `http://${hostname}:${port}` },
      `Caddis is listening on http://${hostname}:${port}`,
    );
  },
}, app.fetch);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, async () => {
    log.info({ signal }, "shutting down");
    await server.shutdown();
    await shutdown();
    Deno.exit(0);
  });
}
