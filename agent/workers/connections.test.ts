import { describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { waitFor } from "../../scripts/testing/wait.ts";
import { countEstablished, openConnections } from "./connections.ts";

const TABLE =
  `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:2329 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1
   1: 0100007F:2329 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 2 1
   2: 0100007F:D431 0100007F:2329 01 00000000:00000000 00:00000000 00000000     0        0 3 1
   3: 0100007F:2329 0100007F:D432 06 00000000:00000000 00:00000000 00000000     0        0 0 3
   4: 0100007F:12329 0100007F:D433 01 00000000:00000000 00:00000000 00000000     0        0 4 1
`;

describe("countEstablished", () => {
  test("counts established rows whose local port matches, not listeners, clients or TIME_WAIT", () => {
    expect(countEstablished(TABLE, 0x2329)).toBe(1);
    expect(countEstablished(TABLE, 0xd431)).toBe(1);
    expect(countEstablished(TABLE, 0x1234)).toBe(0);
  });
});

describe("openConnections", () => {
  test("sees a real connection to a loopback server, and not after it closes", async () => {
    const server = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: { data() {} },
    });
    try {
      const client = connect(server.port, "127.0.0.1");
      await waitFor(
        "the connection",
        async () => (await openConnections(server.port)) === 1,
        5_000,
        5,
      );
      client.destroy();
      await waitFor("the close", async () => (await openConnections(server.port)) === 0, 5_000, 5);
    } finally {
      server.stop(true);
    }
  });
});
