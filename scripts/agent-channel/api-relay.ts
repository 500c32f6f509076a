// A loopback TCP relay in front of the API, so an agent keeps one URL while the API behind it is
// closed and started again (on another port), as a restarted API process would be.
import { connect, createServer, type Socket } from "node:net";

/** The relay and how to move it. */
export interface ApiRelay {
  /** `http://127.0.0.1:<port>`, the URL agents dial. */
  url: string;
  /** New connections go to `port` from now on; open ones are left alone. */
  retarget(port: number): void;
  close(): Promise<void>;
}

/** Starts a relay on 127.0.0.1 (random port) to 127.0.0.1:`port`. */
export async function startApiRelay(port: number): Promise<ApiRelay> {
  let target = port;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target, "127.0.0.1");
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      // Either end failing (the API is down) drops both, as a dead server would.
      socket.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (!address || typeof address !== "object") throw new Error("the relay has no port");
  return {
    url: `http://127.0.0.1:${address.port}`,
    retarget(next) {
      target = next;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
