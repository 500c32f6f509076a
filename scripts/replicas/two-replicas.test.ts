import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DiagnoseResult } from "../../agent/protocol/commands.ts";
import { CLOSE } from "../../agent/protocol/version.ts";
import type { CommandView } from "../../api/services/agent-commands.ts";
import { openServerTestDatabase, type TestDatabase } from "../testing/db.ts";
import type { ServerProcess } from "../testing/process.ts";
import { waitFor } from "../testing/wait.ts";
import {
  addHost,
  callReplica,
  expectJson,
  setupThroughLink,
  sharedSecrets,
  startReplica,
} from "./api-process.ts";
import {
  type EnrolledAgent,
  enrolRealAgent,
  type RunningAgent,
  runRealAgent,
} from "./real-agent.ts";
import { reportMissingServer, SERVER_URL } from "../testing/server-only.ts";

// Two API processes on one database, an agent connected to A only: what users do through B must
// reach the agent through PostgreSQL NOTIFY, and what the agent answers must show on B.
const NAME = "two API replicas on one database";
reportMissingServer(NAME);

describe.skipIf(!SERVER_URL)(NAME, () => {
  let database: TestDatabase;
  let dataRoot: string;
  let a: ServerProcess;
  let b: ServerProcess;
  let token: string;
  let enrolled: EnrolledAgent;
  let agent: RunningAgent | undefined;

  beforeAll(async () => {
    database = await openServerTestDatabase(SERVER_URL ?? "");
    dataRoot = await mkdtemp(join(tmpdir(), "caddis-replicas-"));
    const secrets = sharedSecrets();
    const replica = (name: string) =>
      startReplica({ dataDir: join(dataRoot, name), secrets, databaseUrl: database.url });
    a = await replica("a");
    // Setup on A first: B's start would otherwise replace the one-time link A printed.
    token = await setupThroughLink(a);
    b = await replica("b");
    const host = await addHost(a, token, "web-1");
    enrolled = await enrolRealAgent(a.url, host.enrolmentToken);
    agent = await runRealAgent(enrolled.stateDir, a.url);
    await agent.connected();
  }, 120_000);
  afterAll(async () => {
    await agent?.stop();
    await Promise.all([a?.stop(), b?.stop()]);
    await enrolled?.remove();
    await rm(dataRoot, { recursive: true, force: true });
    await database?.close();
  });

  const commandOnB = async (hostId: string, commandId: string) =>
    (await expectJson<{ command: CommandView }>(
      await callReplica(b, token, "GET", `/hosts/${hostId}/commands/${commandId}`),
      200,
    )).command;

  test("B shows the host online although its socket is on A", async () => {
    await waitFor("B to report the host online", async () => {
      const res = await callReplica(b, token, "GET", `/hosts/${enrolled.hostId}`);
      return (await expectJson<{ host: { status: string } }>(res, 200)).host.status === "online";
    });
  });

  test("a diagnose asked through B runs on the agent held by A, and B reports its result", async () => {
    const { command } = await expectJson<{ command: CommandView }>(
      await callReplica(b, token, "POST", `/hosts/${enrolled.hostId}/diagnose`),
      202,
    );
    let done: CommandView = command;
    await waitFor("the command to succeed, as B sees it", async () => {
      done = await commandOnB(enrolled.hostId, command.id);
      return done.state === "succeeded";
    });
    const result = DiagnoseResult.parse(done.result);
    expect(result.inventory.git).toBeDefined();
    expect(result.facts.cpuCount).toBeGreaterThan(0);
    expect(done.error).toBeNull();
  });

  test("revoking through B closes the agent's socket on A within a second", async () => {
    const before = agent?.disconnects.length ?? 0;
    const res = await callReplica(b, token, "DELETE", `/hosts/${enrolled.hostId}`);
    expect(res.status).toBe(204);
    await waitFor(
      "A to close the revoked host's socket",
      () => (agent?.disconnects.length ?? 0) > before,
      1_000,
      10,
    );
    expect(agent?.disconnects[before]?.code).toBe(CLOSE.revoked);
    // The agent dials again and is refused: the host stays revoked everywhere.
    const hosts = await expectJson<{ hosts: { id: string }[] }>(
      await callReplica(a, token, "GET", "/hosts"),
      200,
    );
    expect(hosts.hosts.map((h) => h.id)).not.toContain(enrolled.hostId);
    expect(agent?.handle.isConnected()).toBe(false);
  });
});
