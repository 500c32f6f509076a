import { connect, createServer, type Server, type Socket } from "node:net";

/** A loopback TCP relay that a test can take down and bring back, to simulate an outage. */
export interface TcpProxy {
  port: number;
  /** Stops accepting and cuts every open connection, as a crashed server would. */
  down(): Promise<void>;
  /** Accepts again on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
}

/** Starts a relay on 127.0.0.1 (random port) to `target`. */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const next = createServer((client) => {
        const upstream = connect(target.port, target.host);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on("close", () => sockets.delete(s));
          s.on("error", () => {
            client.destroy();
            upstream.destroy();
          });
        }
        client.pipe(upstream).pipe(client);
      });
      next.once("error", reject);
      next.listen(port, "127.0.0.1", () => {
        const address = next.address();
        if (address && typeof address === "object") port = address.port;
        server = next;
        resolve();
      });
    });

  const down = async () => {
    const current = server;
    server = undefined;
    for (const s of sockets) s.destroy();
    if (current) await new Promise<void>((resolve) => current.close(() => resolve()));
  };

  await listen();
  return { port, down, up: listen, close: down };
}
