import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TEST_PASSWORD } from "../scripts/testing/auth.ts";
import { type ServerProcess, startServerProcess } from "../scripts/testing/process.ts";
import { waitFor } from "../scripts/testing/wait.ts";

// `npm start` on a fresh data directory: after setup, the embedded agent enrols the `local` host
// and it shows online, sandboxed, and stays the same host across restarts.
let tempDir: string;
let dataDir: string;
const entry = [process.execPath, "api/main-bun.ts"];

beforeAll(async () => {
  tempDir = await mkdtemp(join(tmpdir(), "caddis-embedded-"));
  dataDir = join(tempDir, "data");
});
afterAll(() => rm(tempDir, { recursive: true, force: true }));

interface HostSummary {
  id: string;
  name: string;
  isLocal: boolean;
  status: string;
  mode: string | null;
  modeReason: string | null;
  inventory: Record<string, { present: boolean }> | null;
}

async function hostsOf(server: ServerProcess, accessToken: string): Promise<HostSummary[]> {
  const res = await fetch(`${server.url}/api/v1/hosts`, {
    headers: { authorization: `Bearer ${accessToken}` },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { hosts: HostSummary[] }).hosts;
}

async function waitForLocalOnline(server: ServerProcess, accessToken: string) {
  let local: HostSummary | undefined;
  await waitFor("the local host to come online", async () => {
    local = (await hostsOf(server, accessToken)).find((host) => host.isLocal);
    return local?.status === "online" && local.inventory !== null;
  }, 30_000);
  return local!;
}

test(
  "after setup the local host is enrolled, online and sandboxed, and stays one host",
  async () => {
    const env = { CADDIS_DATA_DIR: dataDir, CADDIS_PORT: "0", CADDIS_LOG_LEVEL: "debug" };
    const first = await startServerProcess(entry, env);
    let hostId: string;
    try {
      await waitFor("the setup link", () => /setup\?token=[a-z2-7]+/.test(first.output()));
      const setupToken = /setup\?token=([a-z2-7]+)/.exec(first.output())![1];
      const setup = await fetch(`${first.url}/api/v1/setup`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          token: setupToken,
          email: "owner@example.com",
          password: TEST_PASSWORD,
          tenantName: "Acme",
        }),
      });
      expect(setup.status).toBe(201);
      const { accessToken } = (await setup.json()) as { accessToken: string };

      const local = await waitForLocalOnline(first, accessToken);
      expect(local).toMatchObject({
        name: "local",
        mode: "sandbox",
        modeReason: "embedded in the API process",
      });
      expect(local.inventory?.git?.present).toBe(true);
      hostId = local.id;
      // The agent's key lives in the data dir, private to the panel's user.
      expect((await stat(join(dataDir, "agent", "agent.json"))).mode & 0o777).toBe(0o600);
      // The one-time enrolment token never reaches the output, even at debug level.
      expect(first.output()).not.toMatch(/cde_[a-z2-7]{52}/);
    } finally {
      expect(await first.stop()).toBe(0);
    }

    const second = await startServerProcess(entry, env);
    try {
      const login = await fetch(`${second.url}/api/v1/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: "owner@example.com", password: TEST_PASSWORD }),
      });
      const { accessToken } = (await login.json()) as { accessToken: string };
      const local = await waitForLocalOnline(second, accessToken);
      expect(local.id).toBe(hostId);
      expect(await hostsOf(second, accessToken)).toHaveLength(1);
    } finally {
      expect(await second.stop()).toBe(0);
    }
  },
  120_000,
);

test("CADDIS_EMBEDDED_AGENT=off starts no agent", async () => {
  const server = await startServerProcess(entry, {
    CADDIS_DATA_DIR: join(tempDir, "off"),
    CADDIS_PORT: "0",
    CADDIS_EMBEDDED_AGENT: "off",
    CADDIS_LOG_LEVEL: "debug",
  });
  try {
    await waitFor("the setup link", () => server.output().includes("setup?token="));
    expect(server.output()).not.toContain("embedded agent");
  } finally {
    expect(await server.stop()).toBe(0);
  }
}, 60_000);
