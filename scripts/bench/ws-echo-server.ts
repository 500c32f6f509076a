// The agent benchmark's baseline: a bare `Bun.serve` WebSocket echo on PORT, holding idle sockets
// and echoing each message, with a GET /readyz to wait on. Usage: PORT=n bun ws-echo-server.ts
Bun.serve({
  hostname: "127.0.0.1",
  port: Number(process.env.PORT),
  fetch(req, server) {
    if (new URL(req.url).pathname === "/readyz") return new Response("ok");
    return server.upgrade(req) ? undefined : new Response("expected a WebSocket upgrade", {
      status: 400,
    });
  },
  websocket: {
    message(ws, message) {
      ws.send(message);
    },
  },
});
