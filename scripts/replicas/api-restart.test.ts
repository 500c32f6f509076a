import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TERMINAL_COMMAND_STATES } from "../../agent/protocol/commands.ts";
import type { CommandView } from "../../api/services/agent-commands.ts";
import { openServerTestDatabase, TEST_DATABASE_URL, type TestDatabase } from "../testing/db.ts";
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
import { openReplicaPglite, queueEchoCommands } from "./queue-commands.ts";
import {
  type EnrolledAgent,
  enrolRealAgent,
  type RunningAgent,
  runRealAgent,
} from "./real-agent.ts";

// An API process restarted (SIGTERM, then a new process on the same database) while commands wait
// for an offline agent: when the agent comes back, every one of them is delivered and runs once.
// On the suite's server the processes share DATABASE_URL; otherwise each uses the PGlite in the
// data dir, which the new process opens again. The only kind the HTTP API issues, host.diagnose,
// replaces a queued one, so the many waiting commands are of a test kind, queued by the same
// service verb the routes call.
const QUEUED = 20;

let serverDatabase: TestDatabase | undefined;
let dataDir: string;
let enrolled: EnrolledAgent | undefined;
let agent: RunningAgent | undefined;
let api: ServerProcess | undefined;

beforeAll(async () => {
  if (TEST_DATABASE_URL) serverDatabase = await openServerTestDatabase(TEST_DATABASE_URL);
  dataDir = await mkdtemp(join(tmpdir(), "caddis-restart-"));
});
afterAll(async () => {
  await agent?.stop();
  await api?.stop();
  await enrolled?.remove();
  await rm(dataDir, { recursive: true, force: true });
  await serverDatabase?.close();
});

test(
  "commands queued for an offline agent across an API restart all run once, in order",
  async () => {
    const secrets = sharedSecrets();
    const start = () => startReplica({ dataDir, secrets, databaseUrl: serverDatabase?.url });
    api = await start();
    const token = await setupThroughLink(api);
    const host = await addHost(api, token, "web-1");
    enrolled = await enrolRealAgent(api.url, host.enrolmentToken);
    agent = await runRealAgent(enrolled.stateDir, api.url);
    await agent.connected();
    await agent.stop();
    agent = undefined;

    // Through the API while the agent is away: each diagnose replaces the one still queued.
    const diagnoses: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await callReplica(api, token, "POST", `/hosts/${host.hostId}/diagnose`);
      diagnoses.push((await expectJson<{ command: CommandView }>(res, 202)).command.id);
    }
    expect(await api.stop()).toBe(0);
    api = undefined;

    // The bulk of the queue, written while no API runs (PGlite's data dir is free only then).
    const database = serverDatabase ?? (await openReplicaPglite(join(dataDir, "pglite")));
    let echoes: string[];
    try {
      echoes = await queueEchoCommands(
        database,
        secrets.CADDIS_AGENT_SIGNING_KEY,
        host.hostId,
        QUEUED,
      );
    } finally {
      if (!serverDatabase) await database.close();
    }

    api = await start();
    const restarted = api;
    agent = await runRealAgent(enrolled.stateDir, restarted.url);
    const waiting = [...diagnoses, ...echoes];
    let commands: CommandView[] = [];
    await waitFor("every queued command to finish", async () => {
      const res = await callReplica(restarted, token, "GET", `/hosts/${host.hostId}/commands`);
      commands = (await expectJson<{ commands: CommandView[] }>(res, 200)).commands
        .filter((c) => waiting.includes(c.id));
      return commands.length === waiting.length &&
        commands.every((c) => TERMINAL_COMMAND_STATES.includes(c.state));
    }, 60_000);

    const stateOf = (id: string) => commands.find((c) => c.id === id)?.state;
    expect(diagnoses.map(stateOf)).toEqual(["superseded", "superseded", "succeeded"]);
    expect(echoes.map(stateOf)).toEqual(echoes.map(() => "succeeded"));
    // Each ran exactly once, in the order it was queued.
    expect(agent.echoed).toEqual(echoes.map((_, n) => n));
  },
  120_000,
);
