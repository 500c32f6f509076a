// Liveness with real processes: an agent run by the CLI is online; once it is frozen with SIGSTOP
// the API hears nothing, closes its socket after the peer timeout and shows the host offline;
// after SIGCONT the agent reconnects by itself and the host is online again.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { type AgentServer, startAgentServer } from "../testing/agent-server.ts";
import { bearer } from "../testing/auth.ts";
import { setupAcme } from "../testing/members.ts";
import { waitFor } from "../testing/wait.ts";

const ROOT = join(import.meta.dir, "../..");
let server: AgentServer;
let rootToken: string;
let agentDir: string;
let agent: Subprocess | undefined;

beforeAll(async () => {
  // A short peer timeout so the frozen agent is noticed in about a second, not 45.
  server = await startAgentServer({ hub: { heartbeatMs: 300, peerTimeoutMs: 1_200 } });
  ({ rootToken } = await setupAcme(server.testApp));
  agentDir = await mkdtemp(join(tmpdir(), "caddis-sigstop-"));
});
afterAll(async () => {
  agent?.kill("SIGCONT");
  agent?.kill("SIGKILL");
  await agent?.exited;
  await server.close();
  await rm(agentDir, { recursive: true, force: true });
});

async function api(path: string, init: RequestInit = {}) {
  const res = await fetch(`${server.baseUrl}${path}`, {
    ...init,
    headers: { "content-type": "application/json", ...bearer(rootToken) },
  });
  return { status: res.status, body: await res.json() as Record<string, unknown> };
}

async function statusOf(hostId: string): Promise<string> {
  const { body } = await api(`/api/v1/hosts/${hostId}`);
  return (body.host as { status: string }).status;
}

function cli(args: string[], env: Record<string, string>) {
  return Bun.spawn([process.execPath, "agent/main.ts", ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", CADDIS_AGENT_DIR: agentDir, ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
}

test("a frozen agent goes offline after the peer timeout and comes back when thawed", async () => {
  const created = await api("/api/v1/hosts", {
    method: "POST",
    body: JSON.stringify({ name: "frozen" }),
  });
  expect(created.status).toBe(201);
  const hostId = (created.body.host as { id: string }).id;
  const token = (created.body.enrolment as { token: string }).token;

  const enrol = cli(["enroll", "--api", server.baseUrl], { CADDIS_ENROL_TOKEN: token });
  expect(await enrol.exited).toBe(0);

  agent = cli(["run"], { CADDIS_AGENT_MODE: "sandbox" });
  await waitFor("the agent to come online", async () => (await statusOf(hostId)) === "online");

  agent.kill("SIGSTOP");
  await waitFor(
    "the frozen agent to be offline",
    async () => (await statusOf(hostId)) === "offline",
  );
  expect(server.testApp.deps.agentHub.isConnected(hostId)).toBe(false);

  agent.kill("SIGCONT");
  await waitFor("the thawed agent to reconnect", async () => (await statusOf(hostId)) === "online");
  expect(server.testApp.deps.agentHub.isConnected(hostId)).toBe(true);
}, 60_000);
