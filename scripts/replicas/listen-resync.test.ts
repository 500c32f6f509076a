import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { CLOSE } from "../../agent/protocol/version.ts";
import { type AgentServer, startAgentServer } from "../testing/agent-server.ts";
import { callApi } from "../testing/api.ts";
import { openServerTestDatabase, type TestDatabase } from "../testing/db.ts";
import { setupAcme } from "../testing/members.ts";
import {
  type AgentIdentity,
  connectAgent,
  insertEnrolledHost,
  type ProtocolClient,
} from "../testing/protocol-client.ts";
import { waitFor } from "../testing/wait.ts";
import { queueEcho } from "./queue-commands.ts";
import { reportMissingServer, SERVER_URL } from "../testing/server-only.ts";

// The hub hears other replicas through one LISTEN connection. When it drops, NOTIFYs sent before
// it is back are lost for good; on re-subscribing the hub must catch up from the tables for every
// socket it holds. The gap is held open by refusing new connections to the database while the
// listening backend is terminated, so the command is queued for certain while nobody listens.
const NAME = "host events missed while LISTEN was down";
reportMissingServer(NAME);

describe.skipIf(!SERVER_URL)(NAME, () => {
  let database: TestDatabase;
  let dbName: string;
  // ALTER DATABASE … ALLOW_CONNECTIONS must come from a session on another database.
  let admin: postgres.Sql;
  let server: AgentServer;
  let rootToken: string;
  let acme: string;

  beforeAll(async () => {
    database = await openServerTestDatabase(SERVER_URL ?? "");
    dbName = new URL(database.url ?? "").pathname.slice(1);
    admin = postgres(SERVER_URL ?? "", { max: 1, onnotice: () => {} });
    server = await startAgentServer({ database });
    ({ rootToken, acme } = await setupAcme(server.testApp));
  });
  afterAll(async () => {
    await allowConnections(true);
    await admin?.end();
    await server?.close();
    await database?.close();
  });

  const allowConnections = (allow: boolean) =>
    admin?.unsafe(`alter database ${dbName} allow_connections ${allow}`);
  const listeners = async () =>
    (await database.rawSql(
      "select pid from pg_stat_activity where datname = current_database() and query ilike 'listen%'",
    )).length;

  // Cuts the hub's LISTEN session and keeps it from coming back until `reopen` is called. Open
  // sessions survive the refusal, so the pool is filled first: the test's own writes, and the
  // hub's, must not need a new connection during the gap.
  const cutListen = async () => {
    expect(await listeners()).toBe(1);
    const db = server.testApp.deps.database.db;
    await Promise.all(Array.from({ length: 6 }, () => db.execute(sql`select pg_sleep(0.05)`)));
    await allowConnections(false);
    await database.rawSql(
      "select pg_terminate_backend(pid) from pg_stat_activity " +
        "where datname = current_database() and query ilike 'listen%'",
    );
    await waitFor("the listening backend to be gone", async () => (await listeners()) === 0);
  };
  const reopen = async () => {
    await allowConnections(true);
    await waitFor("the hub to listen again", async () => (await listeners()) === 1);
  };

  const connect = async (
    name: string,
  ): Promise<{ identity: AgentIdentity; client: ProtocolClient }> => {
    const identity = await insertEnrolledHost(server.testApp.deps.database.db, acme, name);
    const client = await connectAgent(server.wsUrl, identity, {
      onCommand: () => ({ outcome: "succeeded", result: {} }),
    });
    return { identity, client };
  };
  const enqueue = (identity: AgentIdentity, name: string, n: number) =>
    queueEcho(server.testApp, { id: identity.hostId, tenantId: acme, name }, n);
  const stateOf = async (commandId: string) =>
    (await database.rawSql(`select state from agent_commands where id = '${commandId}'`))[0]?.state;
  const resubscribedLines = () =>
    server.testApp.logText().split("\n").filter((line) => line.includes("re-subscribed")).length;

  test("a command queued during the gap is delivered once the hub listens again", async () => {
    const { identity, client } = await connect("web-1");
    // Delivered through NOTIFY, as usual.
    const first = await enqueue(identity, "web-1", 0);
    await waitFor(
      "the first command to succeed",
      async () => (await stateOf(first.id)) === "succeeded",
    );

    const resyncs = resubscribedLines();
    await cutListen();
    const missed = await enqueue(identity, "web-1", 1);
    await reopen();
    // Nothing else is sent: only the catch-up after re-subscribing can deliver it.
    await waitFor(
      "the missed command to succeed",
      async () => (await stateOf(missed.id)) === "succeeded",
      15_000,
    );
    expect(client.ran).toEqual([first.id, missed.id]);
    expect(resubscribedLines()).toBe(resyncs + 1);
    client.close();
  }, 30_000);

  test(
    "catching up sends each socket only what it missed, and nothing to one that missed nothing",
    async () => {
      const quiet = await connect("web-3");
      const queued = await connect("web-4");
      const changed = await connect("web-5");
      const all = [quiet, queued, changed];
      for (const { client } of all) await client.waitFrame("desired_state");
      const before = all.map(({ client }) => client.frames.length);
      const resyncs = resubscribedLines();

      await cutListen();
      const missed = await enqueue(queued.identity, "web-4", 0);
      // What a change to the host's sites does, without the NOTIFY, which nobody hears now.
      await database.rawSql(
        `update hosts set desired_revision = desired_revision + 1 where id = '${changed.identity.hostId}'`,
      );
      await reopen();
      await waitFor("the catch-up", () => resubscribedLines() === resyncs + 1);

      const desired = await changed.client.waitFrame("desired_state", undefined, {
        from: before[2],
      });
      expect(desired.state.revision).toBe(2);
      await waitFor(
        "the missed command to succeed",
        async () => (await stateOf(missed.id)) === "succeeded",
      );
      expect(queued.client.ran).toEqual([missed.id]);
      // A socket's deliveries go out in order: had the catch-up sent the quiet socket anything, it
      // would come before this command.
      const later = await enqueue(quiet.identity, "web-3", 0);
      await waitFor(
        "the later command to succeed",
        async () => (await stateOf(later.id)) === "succeeded",
      );
      const after = (i: number) =>
        all[i]?.client.frames.slice(before[i]).map((f) => f.type).filter((t) => t !== "heartbeat");
      expect(after(0)).toEqual(["command"]);
      expect(after(1)).toEqual(["command"]);
      expect(after(2)).toEqual(["desired_state"]);
      for (const { client } of all) client.close();
    },
    30_000,
  );

  test("a host revoked during the gap loses its socket once the hub listens again", async () => {
    const { identity, client } = await connect("web-2");
    await cutListen();
    const res = await callApi(
      server.testApp,
      rootToken,
      "DELETE",
      `/api/v1/hosts/${identity.hostId}`,
    );
    expect(res.status).toBe(204);
    expect(client.isOpen()).toBe(true);
    await reopen();
    expect((await client.closed).code).toBe(CLOSE.revoked);
  }, 30_000);
});
