// Enrolment end to end with the real pieces: a tenant admin adds a host over the JSON API, the
// real agent enrols with the one-time token (in-process and through its CLI), connects, reports,
// runs host.diagnose, and is cut off for good when the host is revoked.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { cleanupsAfterEach } from "../testing/cleanups.ts";
import { and, eq } from "drizzle-orm";
import os from "node:os";
import { join } from "node:path";
import { type AgentHandle, startAgent } from "../../agent/agent.ts";
import { resolveMode } from "../../agent/config.ts";
import { enrollAgent } from "../../agent/enroll.ts";
import { silentLog } from "../../agent/log.ts";
import { CLOSE } from "../../agent/protocol/version.ts";
import { tempDir } from "../../agent/test-fixtures.ts";
import { AGENT_VERSION } from "../../agent/version.ts";
import type { CommandView } from "../../api/services/agent-commands.ts";
import type { Enrolment } from "../../api/services/host-enrolment.ts";
import type { HostView } from "../../api/services/host-view.ts";
import { auditLog } from "../../db/schema.ts";
import type { AgentServer } from "../testing/agent-server.ts";
import { callApi } from "../testing/api.ts";
import { addTestMember, setupAcme } from "../testing/members.ts";
import { testWithTools } from "../testing/tools.ts";
import { waitFor } from "../testing/wait.ts";
import { startChannelServer } from "./channel-harness.ts";
import { AGENT_TIMING } from "./test-agent.ts";

// bun's default is 5 s; these start servers and processes, and must not flake on a busy box.
setDefaultTimeout(30_000);

const MAIN = join(import.meta.dir, "../../agent/main.ts");
const IS_ROOT = process.getuid?.() === 0;

let server: AgentServer;
let admin: string;
const onCleanup = cleanupsAfterEach();

beforeAll(async () => {
  server = await startChannelServer();
  const { acme } = await setupAcme(server.testApp);
  admin = (await addTestMember(server.testApp, {
    email: "admin@acme.test",
    tenantId: acme,
    roleIds: ["role_admin"],
  })).accessToken;
});
afterAll(() => server.close());

const api = (method: string, path: string, body?: unknown) =>
  callApi(server.testApp, admin, method, path, body);

async function addHost(name: string): Promise<{ host: HostView; enrolment: Enrolment }> {
  const res = await api("POST", "/api/v1/hosts", { name });
  expect(res.status).toBe(201);
  return await res.json();
}

async function hostView(id: string): Promise<HostView> {
  const res = await api("GET", `/api/v1/hosts/${id}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { host: HostView }).host;
}

async function waitHost(id: string, what: string, check: (host: HostView) => boolean) {
  let last: HostView | undefined;
  await waitFor(`host ${id} ${what}`, async () => check(last = await hostView(id)));
  return last!;
}

async function agentDir(): Promise<string> {
  const { dir, remove } = await tempDir("enrol");
  onCleanup(remove);
  return join(dir, "agent");
}

async function runAgent(dir: string): Promise<AgentHandle> {
  const agent = await startAgent({
    stateDir: dir,
    ...resolveMode("sandbox", IS_ROOT),
    log: silentLog,
    timing: AGENT_TIMING,
  });
  onCleanup(() => agent.stop());
  return agent;
}

testWithTools(
  ["git"],
  "an admin adds a host, the agent enrols with its token, comes online and diagnoses itself",
  async () => {
    const { host, enrolment } = await addHost("web-1");
    expect(host.status).toBe("pending");
    const dir = await agentDir();
    const state = await enrollAgent({
      apiUrl: server.baseUrl,
      token: enrolment.token,
      stateDir: dir,
      hostname: "web-1.test",
    });
    expect(state.hostId).toBe(host.id);
    expect(state.apiPublicKey).toBe(server.testApp.deps.commandSigner.publicKey);

    await runAgent(dir);
    const online = await waitHost(
      host.id,
      "online and converged",
      (h) => h.status === "online" && h.observedRevision === h.desiredRevision,
    );
    expect(online).toMatchObject({
      enrolled: true,
      agentVersion: AGENT_VERSION,
      mode: "sandbox",
      modeReason: IS_ROOT ? "CADDIS_AGENT_MODE=sandbox" : "not running as root",
      drift: false,
    });
    expect(online.facts?.hostname).toBe(os.hostname());

    const res = await api("POST", `/api/v1/hosts/${host.id}/diagnose`);
    expect(res.status).toBe(202);
    const { command } = (await res.json()) as { command: CommandView };
    let ended: CommandView | undefined;
    await waitFor("the diagnose command to end", async () => {
      const got = await api("GET", `/api/v1/hosts/${host.id}/commands/${command.id}`);
      ended = ((await got.json()) as { command: CommandView }).command;
      return ended.state !== "queued" && ended.state !== "sent" && ended.state !== "running";
    });
    expect(ended).toMatchObject({ state: "succeeded", kind: "host.diagnose", deliveries: 1 });
    const diagnosed = await hostView(host.id);
    expect(diagnosed.inventory?.git).toMatchObject({ present: true });

    // The token is spent: a second agent cannot enrol with it, and is not told why in detail.
    const again = enrollAgent({
      apiUrl: server.baseUrl,
      token: enrolment.token,
      stateDir: await agentDir(),
      hostname: "intruder",
    });
    await expect(again).rejects.toThrow(/refused the enrolment \(HTTP 400\)/);
    await again.catch((err: Error) => expect(err.message).not.toContain(enrolment.token));
    expect(server.testApp.logText()).not.toContain(enrolment.token);
  },
);

test("a revoked host's agent is disconnected at once and never gets back in", async () => {
  const { host, enrolment } = await addHost("web-2");
  const dir = await agentDir();
  await enrollAgent({
    apiUrl: server.baseUrl,
    token: enrolment.token,
    stateDir: dir,
    hostname: "x",
  });
  const agent = await runAgent(dir);
  const closes: number[] = [];
  let connects = 0;
  agent.events.addEventListener("disconnected", (event) => {
    closes.push((event as CustomEvent<{ code: number }>).detail.code);
  });
  agent.events.addEventListener("connected", () => connects++);
  await waitHost(host.id, "online", (h) => h.status === "online");
  expect(connects).toBe(1);

  expect((await api("DELETE", `/api/v1/hosts/${host.id}`)).status).toBe(204);
  // Pushed by the revocation itself (NOTIFY → hub), not noticed later by a timeout.
  await waitFor("the agent to be disconnected", () => closes.length === 1, 1_000, 10);
  expect(closes).toEqual([CLOSE.revoked]);

  // The agent keeps redialling; each attempt fails the challenge and is audited.
  const refusals = () =>
    server.testApp.deps.database.db.select().from(auditLog).where(and(
      eq(auditLog.action, "agent.auth_failed"),
      eq(auditLog.resourceId, host.id),
    ));
  await waitFor("three refused redials", async () => (await refusals()).length >= 3);
  for (const row of await refusals()) expect(row.details).toMatchObject({ reason: "host revoked" });
  expect(connects).toBe(1);
  expect(agent.isConnected()).toBe(false);
  expect(server.testApp.deps.agentHub.isConnected(host.id)).toBe(false);
  expect((await api("GET", `/api/v1/hosts/${host.id}`)).status).toBe(404);
});

// The CLI as an operator runs it: the enrol command the API printed, then `run` as a process.
function spawnCli(args: string[], env: Record<string, string>) {
  return Bun.spawn([process.execPath, MAIN, ...args], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
}

async function runCli(args: string[], env: Record<string, string>) {
  const proc = spawnCli(args, env);
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { output: stdout + stderr, code };
}

test("the CLI refuses --token, enrols from CADDIS_ENROL_TOKEN, runs, and stops on SIGTERM", async () => {
  const { host, enrolment } = await addHost("web-3");
  const dir = await agentDir();
  const env = { CADDIS_AGENT_DIR: dir, CADDIS_AGENT_MODE: "sandbox" };

  const refused = await runCli(
    ["enroll", "--api", server.baseUrl, "--token", enrolment.token],
    env,
  );
  expect(refused.code).toBe(2);
  expect(refused.output).toContain("set CADDIS_ENROL_TOKEN");
  expect(refused.output).not.toContain(enrolment.token);

  const enrolled = await runCli(["enroll", "--api", server.baseUrl], {
    ...env,
    CADDIS_ENROL_TOKEN: enrolment.token,
  });
  expect(enrolled.code).toBe(0);
  expect(enrolled.output).toContain(`enrolled as host ${host.id}`);
  expect(enrolled.output).not.toContain(enrolment.token);

  const proc = spawnCli(["run"], env);
  const output = new Response(proc.stderr).text();
  onCleanup(async () => {
    proc.kill("SIGKILL");
    await proc.exited;
  });
  const online = await waitHost(host.id, "online", (h) => h.status === "online");
  expect(online).toMatchObject({ mode: "sandbox", agentVersion: AGENT_VERSION });

  proc.kill("SIGTERM");
  expect(await proc.exited).toBe(0);
  await waitHost(host.id, "offline", (h) => h.status === "offline");
  expect(await output).not.toContain(enrolment.token);
});
