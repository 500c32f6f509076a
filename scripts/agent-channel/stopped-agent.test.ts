// A frozen agent (SIGSTOP): still connected as far as TCP goes, but silent. The API drops it
// after the peer timeout and shows the host offline; once it thaws (SIGCONT) it reconnects and
// gets what was queued meanwhile.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { getHost } from "../../api/services/hosts.ts";
import type { AgentServer } from "../testing/agent-server.ts";
import { superuserAccess } from "../testing/auth.ts";
import { addTestTenant } from "../testing/members.ts";
import { waitFor } from "../testing/wait.ts";
import { spawnTestAgent } from "./agent-process.ts";
import {
  enrolTestAgent,
  issueCommands,
  startChannelServer,
  waitCommandState,
} from "./channel-harness.ts";
import { readExecutions } from "./test-handlers.ts";

// bun's default is 5 s; these start servers and processes, and must not flake on a busy box.
setDefaultTimeout(30_000);

// Long enough that a busy test machine never trips it by accident (agents beat every 500 ms).
const PEER_TIMEOUT_MS = 3_000;

let server: AgentServer;
let tenantId: string;
beforeAll(async () => {
  server = await startChannelServer({ hub: { peerTimeoutMs: PEER_TIMEOUT_MS } });
  tenantId = await addTestTenant(server.testApp, "Acme");
});
afterAll(() => server.close());

test("a stopped agent is dropped as silent, shown offline, and catches up after SIGCONT", async () => {
  const { host, dir, remove } = await enrolTestAgent(server, tenantId, "frozen");
  const proc = spawnTestAgent(dir);
  try {
    const deps = server.testApp.deps;
    const status = async () => (await getHost(deps, superuserAccess(tenantId), host.id)).status;
    await waitFor("the host to be online", async () => (await status()) === "online");

    proc.kill("SIGSTOP");
    await waitFor("the API to drop the silent agent", () => !deps.agentHub.isConnected(host.id));
    expect(server.testApp.logText()).toContain("agent hub: silent agent disconnected");
    await waitFor("the host to show offline", async () => (await status()) === "offline");
    const [queued] = await issueCommands(server, host, [{ kind: "test.record" }]);

    proc.kill("SIGCONT");
    await waitCommandState(server, host, queued!.id, "succeeded");
    expect((await readExecutions(dir)).map((e) => e.id)).toEqual([queued!.id]);
    expect(await status()).toBe("online");
  } finally {
    proc.kill("SIGKILL");
    await proc.exited;
    await remove();
  }
});
