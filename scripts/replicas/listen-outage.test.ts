import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Database, openDatabase } from "../../db/client.ts";
import { type AgentServer, startAgentServer } from "../testing/agent-server.ts";
import { createTestApp, type TestApp } from "../testing/app.ts";
import { openServerTestDatabase, type TestDatabase } from "../testing/db.ts";
import { setupAcme } from "../testing/members.ts";
import { connectAgent, insertEnrolledHost } from "../testing/protocol-client.ts";
import { randomAgentSigningKey } from "../testing/secrets.ts";
import { startTcpProxy, type TcpProxy } from "../testing/tcp-proxy.ts";
import { waitFor } from "../testing/wait.ts";
import { queueEcho } from "./queue-commands.ts";
import { reportMissingServer, SERVER_URL } from "../testing/server-only.ts";

// A replica whose path to PostgreSQL goes away (a server restart, a network cut) and comes back:
// its attempts to subscribe again are refused while it is away, yet once it is back the replica
// listens again and delivers what another replica queued meanwhile, which no NOTIFY will repeat.
const NAME = "a replica whose database connection went away";
reportMissingServer(NAME);

describe.skipIf(!SERVER_URL)(NAME, () => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let hubDatabase: Database;
  // The replica holding the agent's socket reaches PostgreSQL through the proxy; `other` directly.
  let hub: AgentServer;
  let other: TestApp;
  let acme: string;

  beforeAll(async () => {
    database = await openServerTestDatabase(SERVER_URL ?? "");
    const direct = new URL(database.url ?? "");
    proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
    const proxied = new URL(direct);
    proxied.hostname = "127.0.0.1";
    proxied.port = String(proxy.port);
    hubDatabase = await openDatabase({ url: proxied.toString() });
    const env = { CADDIS_AGENT_SIGNING_KEY: randomAgentSigningKey() };
    hub = await startAgentServer({ database: { ...hubDatabase, rawSql: database.rawSql }, env });
    other = await createTestApp({ database, env });
    ({ acme } = await setupAcme(other));
  });
  afterAll(async () => {
    await proxy?.up().catch(() => {});
    await hub?.close();
    await hubDatabase?.close();
    await other?.close();
    await proxy?.close();
    await database?.close();
  });

  const listeners = async () =>
    (await database.rawSql(
      "select pid from pg_stat_activity where datname = current_database() and query ilike 'listen%'",
    )).length;

  const stateOf = async (commandId: string) =>
    (await database.rawSql(`select state from agent_commands where id = '${commandId}'`))[0]?.state;

  test(
    "listens again once the database is back, and delivers what was queued meanwhile",
    async () => {
      const identity = await insertEnrolledHost(database.db, acme, "web-1");
      const host = { id: identity.hostId, tenantId: acme, name: "web-1" };
      const client = await connectAgent(hub.wsUrl, identity, {
        apiPublicKey: other.deps.commandSigner.publicKey,
        onCommand: () => ({ outcome: "succeeded", result: {} }),
      });
      const first = await queueEcho(other, host, 0);
      // Finished and stored before the cut: a result the hub cannot store waits for a reconnect.
      await waitFor(
        "the first command to succeed",
        async () => (await stateOf(first.id)) === "succeeded",
      );

      await proxy.down();
      await waitFor("the hub's listening session to end", async () => (await listeners()) === 0);
      const missed = await queueEcho(other, host, 1);
      await proxy.up();
      await waitFor("the hub to listen again", async () => (await listeners()) === 1, 15_000);
      await waitFor(
        "the missed command to succeed",
        async () => (await stateOf(missed.id)) === "succeeded",
        15_000,
      );
      expect(client.ran).toEqual([first.id, missed.id]);
      client.close();
    },
    45_000,
  );
});
