import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { DiagnoseResult } from "./protocol/commands.ts";
import { ObservedState } from "./protocol/desired-state.ts";
import { PROTOCOL_VERSION } from "./protocol/version.ts";
import { type AgentHandle, type AgentOptions, startAgent } from "./agent.ts";
import { INTERRUPTED_ERROR } from "./dispatch.ts";
import { journalPath, readJournalEntries } from "./journal.ts";
import { type FakeApi, startFakeApi } from "./test-api.ts";
import { silentLog } from "./log.ts";
import { createTestSigner, tempDir, testEnvelope, writeTestState } from "./test-fixtures.ts";
import { AGENT_VERSION } from "./version.ts";
import { testWithTools } from "../scripts/testing/tools.ts";
import { waitFor } from "../scripts/testing/wait.ts";
import { FAST_POLICY, phpSite } from "./sites/test-sites.ts";
import { freePort } from "../scripts/testing/ports.ts";

const FAST = {
  heartbeatMs: 100,
  peerTimeoutMs: 5_000,
  backoffBaseMs: 20,
  backoffCapMs: 100,
  metricsMs: 100,
};

let dir: string;
let remove: () => Promise<void>;
let api: FakeApi;
let agent: AgentHandle | null;

beforeEach(async () => {
  ({ dir, remove } = await tempDir("agent"));
  api = await startFakeApi();
  const state = await writeTestState(dir, {
    hostId: api.hostId,
    apiUrl: api.url,
    apiPublicKey: api.signer.publicKey,
  });
  api.agentPublicKey = state.publicKey;
  agent = null;
});
afterEach(async () => {
  await agent?.stop();
  await api.stop();
  await remove();
});

const start = async (options: Partial<AgentOptions> = {}) => {
  agent = await startAgent({
    stateDir: dir,
    mode: "sandbox",
    modeReason: "test",
    timing: FAST,
    log: silentLog,
    ...options,
  });
  return agent;
};
const resultFor = (id: string) => api.framesOf("command_result").filter((f) => f.commandId === id);

describe("agent", () => {
  test("connects, says hello with its facts, and reports the desired revision it applied", async () => {
    const handle = await start();
    expect(handle.hostId).toBe(api.hostId);
    const observed = await api.waitForFrame(
      "an observed state",
      (r) => r.frame.type === "observed_state",
    );
    const hello = api.framesOf("hello")[0];
    expect(hello).toMatchObject({
      agentVersion: AGENT_VERSION,
      protocolVersion: PROTOCOL_VERSION,
      mode: "sandbox",
      modeReason: "test",
    });
    expect(observed.frame.type === "observed_state" && observed.frame.observed.revision).toBe(1);
    const parsed = ObservedState.parse(api.framesOf("observed_state")[0]?.observed);
    expect(parsed.inventory.git).toBeDefined();
    expect(handle.isConnected()).toBe(true);
  });

  test("host.diagnose returns fresh facts and inventory and reports them again", async () => {
    await start();
    await api.waitForFrame("the first report", (r) => r.frame.type === "observed_state");
    const command = await api.command({ kind: "host.diagnose" });
    await waitFor("the diagnose result", () => resultFor(command.id).length === 1);
    const result = resultFor(command.id)[0]!;
    expect(result.outcome).toBe("succeeded");
    expect(DiagnoseResult.safeParse(result.result).success).toBe(true);
    expect(api.framesOf("command_ack").map((f) => f.commandId)).toEqual([command.id]);
    await waitFor("a second report", () => api.framesOf("observed_state").length === 2);
  });

  test("sends metrics samples on its interval", async () => {
    await start();
    await waitFor("a metrics sample", () => api.framesOf("metrics").length >= 1);
  });

  test("a dropped ack: the API resends after reconnecting and the command does not run twice", async () => {
    let runs = 0;
    let droppedAcks = 0;
    const handle = await start({
      handlers: { "test.count": () => Promise.resolve({ run: ++runs }) },
      outboundFilter: (frame) => {
        if (frame.type !== "command_ack" || droppedAcks > 0) return true;
        droppedAcks += 1;
        return false;
      },
    });
    const finished: string[] = [];
    handle.events.addEventListener("commandFinished", (event) => {
      finished.push((event as CustomEvent<{ via: string }>).detail.via);
    });
    await waitFor("connected", () => handle.isConnected());
    const command = await api.command({ kind: "test.count" });
    await waitFor("the result", () => resultFor(command.id).length === 1);
    expect(api.framesOf("command_ack")).toEqual([]);

    api.disconnect();
    await waitFor("the reconnect", () => api.welcomed === 2);
    api.send(await api.signer.sign(command));
    await waitFor("the result again", () => resultFor(command.id).length === 2);
    expect(resultFor(command.id)[1]).toEqual(resultFor(command.id)[0]!);
    expect(runs).toBe(1);
    expect(finished).toEqual(["run", "stored"]);
    const { entries } = await readJournalEntries(journalPath(dir));
    expect(entries.filter((e) => e.id === command.id).map((e) => e.type)).toEqual([
      "accepted",
      "finished",
    ]);
  });

  test("a forged command is rejected and reported as such", async () => {
    const handle = await start();
    const rejected: unknown[] = [];
    handle.events.addEventListener(
      "commandRejected",
      (e) => rejected.push((e as CustomEvent).detail),
    );
    await waitFor("connected", () => handle.isConnected());
    const forger = await createTestSigner();
    api.send(await forger.sign(testEnvelope(api.hostId, { kind: "host.diagnose" })));
    await waitFor("the rejection", () => api.framesOf("command_rejected").length === 1);
    expect(api.framesOf("command_rejected")[0]).toMatchObject({
      reason: "bad_signature",
      commandId: null,
    });
    expect(rejected).toHaveLength(1);
  });

  test("stop closes the connection; a restart picks up the same journal", async () => {
    let runs = 0;
    const handlers = { "test.count": () => Promise.resolve({ run: ++runs }) };
    const first = await start({ handlers });
    await waitFor("connected", () => first.isConnected());
    const command = await api.command({ kind: "test.count" });
    await waitFor("the result", () => resultFor(command.id).length === 1);
    await first.stop();
    await waitFor("the close", () => api.closes.length === 1);

    await start({ handlers });
    await waitFor("reconnected", () => api.welcomed === 2);
    api.send(await api.signer.sign(command));
    await waitFor("the stored result", () => resultFor(command.id).length === 2);
    expect(runs).toBe(1);
  });

  test("stop gives up on a handler that ignores its signal; the restart reports it interrupted", async () => {
    const handlers = { "test.block": () => new Promise<Record<string, unknown>>(() => {}) };
    const first = await start({ handlers, timing: { ...FAST, stopGraceMs: 100 } });
    await waitFor("connected", () => first.isConnected());
    const command = await api.command({ kind: "test.block" });
    await waitFor("the ack", () => api.framesOf("command_ack").length === 1);
    await first.stop();

    await start({ handlers });
    await waitFor("reconnected", () => api.welcomed === 2);
    api.send(await api.signer.sign(command));
    await waitFor("the result", () => resultFor(command.id).length === 1);
    expect(resultFor(command.id)[0]).toMatchObject({ outcome: "failed", error: INTERRUPTED_ERROR });
  });

  testWithTools(
    ["caddy", "php"],
    "with sites: says how it serves them, runs the sites section and the site commands",
    async () => {
      const httpPort = freePort();
      await start({ sites: { httpPort, httpsPort: null, policy: FAST_POLICY } });
      await waitFor("hello", () => api.framesOf("hello").length === 1);
      expect(api.framesOf("hello")[0]?.web).toEqual({
        httpPort,
        httpsPort: null,
        sitesDir: join(dir, "sites"),
      });
      const site = phpSite("site_agent", "agent.example.com");
      api.revision += 1;
      api.send({
        type: "desired_state",
        state: { hostId: api.hostId, revision: api.revision, sites: [site] },
      });
      const observed = await api.waitForFrame(
        "the sites report",
        (r) => r.frame.type === "observed_state" && r.frame.observed.revision === api.revision,
      );
      const report = ObservedState.parse(
        observed.frame.type === "observed_state" && observed.frame.observed,
      );
      expect(report.sections.sites).toEqual({ ok: true, drift: [], error: null });
      expect(report.sites).toEqual([
        { id: "site_agent", status: "running", port: site.port, lastError: null },
      ]);

      const restart = await api.command({ kind: "site.restart", siteId: site.id, payload: {} });
      await waitFor("the restart's result", () => resultFor(restart.id).length === 1);
      expect(resultFor(restart.id)[0]).toMatchObject({
        outcome: "succeeded",
        result: { port: site.port + 1 },
      });
      // The restart changed the site's port: a fresh report follows without a new revision.
      await api.waitForFrame(
        "a report of the new port",
        (r) =>
          r.frame.type === "observed_state" && r.frame.observed.sites?.[0]?.port === site.port + 1,
      );

      const removal = await api.command({
        kind: "site.remove",
        siteId: site.id,
        payload: { purge: true },
      });
      await waitFor("the removal's result", () => resultFor(removal.id).length === 1);
      expect(resultFor(removal.id)[0]).toMatchObject({
        outcome: "succeeded",
        result: { purged: true },
      });
    },
    60_000,
  );
});
