// A command that is the whole change (a diagnose) goes to the host's socket as soon as it is
// written when this replica holds that socket, once; through another replica, or behind a command
// of its site that still runs, it takes the usual way.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { TOOL_NAMES, type ToolInventory } from "../../agent/protocol/host-report.ts";
import { openDatabase } from "../../db/client.ts";
import { agentCommands } from "../../db/schema.ts";
import { type AgentServer, startAgentServer } from "../../scripts/testing/agent-server.ts";
import { memberAccess } from "../../scripts/testing/auth.ts";
import type { TestDatabase } from "../../scripts/testing/db.ts";
import { addTestMember, addTestTenant, setupAcme } from "../../scripts/testing/members.ts";
import {
  connectAgent,
  insertEnrolledHost,
  type ProtocolClient,
  sampleFacts,
} from "../../scripts/testing/protocol-client.ts";
import { randomAgentSigningKey } from "../../scripts/testing/secrets.ts";
import { waitFor } from "../../scripts/testing/wait.ts";
import type { Access } from "../auth/route-access.ts";
import { type CommandView, enqueueCommand } from "../services/agent-commands.ts";
import type { AuditContext } from "../services/audit.ts";
import { diagnoseHost } from "../services/hosts.ts";

let a: AgentServer;
let b: AgentServer;
let bDatabase: TestDatabase;
let tenantId: string;
let admin: Access;
let outsider: Access;
const audit: AuditContext = { actor: { kind: "user", id: "usr_admin" } };

beforeAll(async () => {
  const env = { CADDIS_AGENT_SIGNING_KEY: randomAgentSigningKey() };
  a = await startAgentServer({ env });
  // On a server, replica B has connections of its own, so the NOTIFY really crosses them.
  const shared = a.testApp.database;
  bDatabase = shared.url
    ? { ...(await openDatabase({ url: shared.url })), url: shared.url, rawSql: shared.rawSql }
    : shared;
  b = await startAgentServer({ database: bDatabase, env });
  ({ acme: tenantId } = await setupAcme(a.testApp));
  const member = await addTestMember(a.testApp, {
    email: "admin@acme.test",
    tenantId,
    roleIds: ["role_admin"],
  });
  admin = memberAccess(["hosts.update"], tenantId, member.userId);
  const globex = await addTestTenant(a.testApp, "Globex");
  outsider = memberAccess(["hosts.update"], globex, member.userId);
});
afterAll(async () => {
  await b.close();
  if (bDatabase !== a.testApp.database) await bDatabase.close();
  await a.close();
});

async function command(id: string) {
  const [row] = await a.testApp.deps.database.db.select().from(agentCommands)
    .where(eq(agentCommands.id, id));
  if (!row) throw new Error(`no command ${id}`);
  return row;
}

// Waits until the stored command is in `state`.
const reachState = (id: string, state: string) =>
  waitFor(`command ${id} to be ${state}`, async () => (await command(id)).state === state);

const commandFrames = (client: ProtocolClient) =>
  client.frames.filter((f) => f.type === "command").length;

// What an agent answers a diagnose with, sent by hand so the test decides when.
function answer(client: ProtocolClient, commandId: string) {
  const inventory = Object.fromEntries(
    TOOL_NAMES.map((n) => [n, { present: false, path: null, version: null }]),
  ) as ToolInventory;
  client.send({ type: "command_ack", commandId });
  client.send({
    type: "command_result",
    commandId,
    outcome: "succeeded",
    result: { facts: sampleFacts(), inventory },
    error: null,
    finishedAt: new Date().toISOString(),
  });
}

async function connected(server: AgentServer, name: string) {
  const identity = await insertEnrolledHost(a.testApp.deps.database.db, tenantId, name);
  const client = await connectAgent(server.wsUrl, identity);
  return { hostId: identity.hostId, client };
}

test("held here, a diagnose is written sent and goes out once", async () => {
  const { hostId, client } = await connected(a, "direct-1");
  // The socket's first delivery pass may still run just after connecting, and a command written
  // meanwhile takes the usual way: diagnose, answered one by one, until one goes direct.
  const issued: CommandView[] = [];
  for (let i = 0; i < 5 && !issued.some((view) => view.state === "sent"); i++) {
    const view = await diagnoseHost(a.testApp.deps, admin, audit, hostId);
    issued.push(view);
    await client.waitFrame("command", (f) => f.body.includes(view.id));
    answer(client, view.id);
    await reachState(view.id, "succeeded");
  }
  expect(issued.at(-1)).toMatchObject({ state: "sent", deliveries: 1 });
  expect(commandFrames(client)).toBe(issued.length);
  for (const view of issued) expect((await command(view.id)).deliveries).toBe(1);
  client.close();
});

test("held by another replica, a diagnose is written queued and that replica delivers it", async () => {
  const { hostId, client } = await connected(b, "direct-2");
  const view = await diagnoseHost(a.testApp.deps, admin, audit, hostId);
  expect(view).toMatchObject({ state: "queued", deliveries: 0 });
  await client.waitFrame("command");
  answer(client, view.id);
  await reachState(view.id, "succeeded");
  expect(commandFrames(client)).toBe(1);
  expect((await command(view.id)).deliveries).toBe(1);
  client.close();
});

test("behind a command of the host that still runs, a diagnose waits its turn", async () => {
  const { hostId, client } = await connected(a, "direct-3");
  const first = await a.testApp.deps.database.db.transaction((tx) =>
    enqueueCommand(tx, a.testApp.deps, {
      host: { id: hostId, tenantId, name: "direct-3" },
      siteId: null,
      kind: "test.echo",
      payload: {},
      issuedBy: null,
      ttlMs: 60_000,
    })
  );
  await client.waitFrame("command");
  client.send({ type: "command_ack", commandId: first.id });
  await reachState(first.id, "running");
  const view = await diagnoseHost(a.testApp.deps, admin, audit, hostId);
  expect(view.state).toBe("queued");
  client.send({
    type: "command_result",
    commandId: first.id,
    outcome: "succeeded",
    result: {},
    error: null,
    finishedAt: new Date().toISOString(),
  });
  await client.waitFrame("command", (f) => f.body.includes(view.id));
  answer(client, view.id);
  await reachState(view.id, "succeeded");
  expect(commandFrames(client)).toBe(2);
  client.close();
});

test("another tenant's diagnose of a connected host is a 404 and sends the agent nothing", async () => {
  const { hostId, client } = await connected(a, "direct-4");
  const err = await diagnoseHost(a.testApp.deps, outsider, audit, hostId).then(
    () => null,
    (e: { code?: string }) => e.code,
  );
  expect(err).toBe("not_found");
  expect(
    await a.testApp.deps.database.db.select().from(agentCommands)
      .where(eq(agentCommands.hostId, hostId)),
  ).toEqual([]);
  // The host's own next diagnose goes out alone: nothing of the refused one was sent or kept.
  const view = await diagnoseHost(a.testApp.deps, admin, audit, hostId);
  await client.waitFrame("command", (f) => f.body.includes(view.id));
  answer(client, view.id);
  await reachState(view.id, "succeeded");
  expect(commandFrames(client)).toBe(1);
  client.close();
});
