import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { DiagnoseResult } from "../../agent/protocol/commands.ts";
import { TOOL_NAMES } from "../../agent/protocol/host-report.ts";
import { newId } from "../../db/ids.ts";
import { hosts } from "../../db/schema.ts";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { addTestTenant } from "../../scripts/testing/members.ts";
import { waitFor } from "../../scripts/testing/wait.ts";
import { recordHostEvents } from "../../scripts/testing/host-events.ts";
import {
  type CommandRejectedFrame,
  type CommandResultFrame,
  recordCommandRejected,
  recordCommandResult,
} from "./agent-command-results.ts";
import { enqueueCommand, getHostCommand, type HostRef } from "./agent-commands.ts";
import type { HostEvent } from "./host-events.ts";

let t: TestApp;
let tenantId: string;
let events: HostEvent[];
let stopListening: () => Promise<void>;

beforeAll(async () => {
  t = await createTestApp();
  tenantId = await addTestTenant(t, "Acme");
  ({ events, stop: stopListening } = await recordHostEvents(t.deps.database));
});
afterAll(async () => {
  await stopListening();
  await t.close();
});

async function addHost(name: string): Promise<HostRef> {
  const id = newId("host");
  await t.deps.database.db.insert(hosts)
    .values({ id, tenantId, name, enrolledAt: new Date(), publicKey: "k" });
  return { id, tenantId, name };
}

async function enqueue(host: HostRef, kind = "test.work", siteId: string | null = null) {
  const command = await t.deps.database.db.transaction((tx) =>
    enqueueCommand(tx, t.deps, { host, siteId, kind, payload: {}, issuedBy: null, ttlMs: 60_000 })
  );
  return command.id;
}

function result(commandId: string, extra: Partial<CommandResultFrame> = {}): CommandResultFrame {
  return {
    type: "command_result",
    commandId,
    outcome: "succeeded",
    result: { ok: true },
    error: null,
    finishedAt: new Date().toISOString(),
    ...extra,
  };
}

function rejected(
  commandId: string | null,
  reason: CommandRejectedFrame["reason"],
): CommandRejectedFrame {
  return { type: "command_rejected", commandId, reason, detail: `detail of ${reason}` };
}

const auditOf = (resourceId: string) =>
  t.database.rawSql(
    `select action, outcome, actor_kind, actor_id, tenant_id, resource_type, details
     from audit_log where resource_id = '${resourceId}' order by seq`,
  );
const view = (host: HostRef, id: string) => getHostCommand(t.deps.database.db, host.id, id);

const DIAGNOSIS: DiagnoseResult = {
  facts: {
    hostname: "web-1",
    os: "Debian GNU/Linux 13",
    kernel: "6.12.0",
    arch: "x64",
    cpuModel: "Test CPU",
    cpuCount: 2,
    memoryBytes: 4_000_000_000,
    disk: { path: "/", totalBytes: 100_000_000_000, freeBytes: 40_000_000_000 },
  },
  inventory: Object.fromEntries(TOOL_NAMES.map((tool) => [
    tool,
    tool === "git"
      ? { present: true, path: "/usr/bin/git", version: "git version 2.47.2" }
      : { present: false, path: null, version: null },
  ])) as DiagnoseResult["inventory"],
};

describe("recordCommandResult", () => {
  test("ends the command once; a repeated result changes nothing", async () => {
    const host = await addHost("web-1");
    const id = await enqueue(host);
    await recordCommandResult(t.deps, host, result(id));
    await recordCommandResult(t.deps, host, result(id, { outcome: "failed", error: "late" }));
    const ended = await view(host, id);
    expect(ended).toMatchObject({ state: "succeeded", result: { ok: true }, error: null });
    expect(ended.finishedAt).not.toBeNull();
    // The row keeps the success; the issuing action is what the audit chain records.
    expect(await auditOf(id)).toEqual([]);
    // Notifications arrive in commit order: once a later command's has come, the repeated
    // result would have announced itself too.
    const later = await enqueue(host, "test.work", "site_z");
    await recordCommandResult(t.deps, host, result(later));
    await waitFor(
      "command_done",
      () => events.some((e) => e.event === "command_done" && e.commandId === later),
    );
    expect(events.filter((e) => e.event === "command_done" && e.commandId === id)).toHaveLength(1);
  });

  test("a failure is audited as the agent's act, once", async () => {
    const host = await addHost("web-1a");
    const id = await enqueue(host);
    await recordCommandResult(t.deps, host, result(id, { outcome: "failed", error: "boom" }));
    await recordCommandResult(t.deps, host, result(id, { outcome: "failed", error: "again" }));
    expect(await view(host, id)).toMatchObject({ state: "failed", error: "boom" });
    expect(await auditOf(id)).toEqual([{
      action: "agent.command.failed",
      outcome: "failure",
      actor_kind: "agent",
      actor_id: host.id,
      tenant_id: tenantId,
      resource_type: "agent_command",
      details: { kind: "test.work", siteId: null },
    }]);
  });

  test("two copies of a result arriving at once are recorded once", async () => {
    const host = await addHost("web-1b");
    const id = await enqueue(host);
    await Promise.all([
      recordCommandResult(t.deps, host, result(id, { outcome: "failed", error: "first" })),
      recordCommandResult(t.deps, host, result(id, { outcome: "failed", error: "copy" })),
    ]);
    expect(await auditOf(id)).toHaveLength(1);
    expect(["first", "copy"]).toContain((await view(host, id)).error ?? "");
  });

  test("tells whether the host has other open commands to deliver next", async () => {
    const host = await addHost("web-1c");
    const first = await enqueue(host);
    const second = await enqueue(host, "test.work", "site_a");
    expect(await recordCommandResult(t.deps, host, result(first))).toEqual({ othersOpen: true });
    expect(await recordCommandResult(t.deps, host, result(second))).toEqual({
      othersOpen: false,
    });
  });

  test("a failure keeps its error, capped at 8000 characters", async () => {
    const host = await addHost("web-2");
    const id = await enqueue(host, "test.work", "site_a");
    const error = "x".repeat(9000);
    await recordCommandResult(t.deps, host, result(id, { outcome: "failed", result: null, error }));
    const ended = await view(host, id);
    expect(ended).toMatchObject({ state: "failed", result: null, error: error.slice(0, 8000) });
    const [audit] = await auditOf(id);
    expect(audit).toMatchObject({
      action: "agent.command.failed",
      outcome: "failure",
      details: { kind: "test.work", siteId: "site_a" },
    });
  });

  test("a result for another host's command is ignored and not audited", async () => {
    const host = await addHost("web-3");
    const intruder = await addHost("web-4");
    const id = await enqueue(host);
    await recordCommandResult(t.deps, intruder, result(id));
    expect((await view(host, id)).state).toBe("queued");
    expect(await auditOf(id)).toEqual([]);
  });

  test("a result for a cancelled command does not revive it", async () => {
    const host = await addHost("web-5");
    const id = await enqueue(host);
    await t.database.rawSql(`update agent_commands set state = 'cancelled' where id = '${id}'`);
    await recordCommandResult(t.deps, host, result(id));
    expect(await view(host, id)).toMatchObject({ state: "cancelled", result: null });
  });

  test("a successful host.diagnose refreshes the host's facts and inventory", async () => {
    const host = await addHost("web-6");
    const diagnose = await t.deps.database.db.transaction((tx) =>
      enqueueCommand(tx, t.deps, {
        host,
        siteId: null,
        kind: "host.diagnose",
        payload: {},
        issuedBy: null,
      })
    );
    await recordCommandResult(t.deps, host, result(diagnose.id, { result: DIAGNOSIS }));
    expect((await view(host, diagnose.id)).state).toBe("succeeded");
    const [row] = await t.database.rawSql(
      `select facts, inventory from hosts where id = '${host.id}'`,
    );
    expect(row).toEqual({ facts: DIAGNOSIS.facts, inventory: DIAGNOSIS.inventory });
  });

  test("a host.diagnose result that does not parse fails the command and leaves the host alone", async () => {
    const host = await addHost("web-7");
    const diagnose = await t.deps.database.db.transaction((tx) =>
      enqueueCommand(tx, t.deps, {
        host,
        siteId: null,
        kind: "host.diagnose",
        payload: {},
        issuedBy: null,
      })
    );
    const bogus = { facts: { hostname: "x" }, inventory: {} };
    await recordCommandResult(t.deps, host, result(diagnose.id, { result: bogus }));
    const ended = await view(host, diagnose.id);
    expect(ended.state).toBe("failed");
    expect(ended.error).toContain("host.diagnose result is malformed");
    const [row] = await t.database.rawSql(`select facts from hosts where id = '${host.id}'`);
    expect(row?.facts).toBeNull();
  });
});

describe("recordCommandRejected", () => {
  test("an agent finding a command too late ends it expired, audited as denied", async () => {
    const host = await addHost("db-1");
    const id = await enqueue(host);
    await recordCommandRejected(t.deps, host, rejected(id, "expired"));
    expect(await view(host, id)).toMatchObject({
      state: "expired",
      error: "rejected by the agent: expired",
    });
    expect(await auditOf(id)).toEqual([{
      action: "agent.command_rejected",
      outcome: "denied",
      actor_kind: "agent",
      actor_id: host.id,
      tenant_id: tenantId,
      resource_type: "agent_command",
      details: { reason: "expired", detail: "detail of expired", commandId: id },
    }]);
  });

  test("any other refusal fails the command", async () => {
    const host = await addHost("db-2");
    const id = await enqueue(host);
    await recordCommandRejected(t.deps, host, rejected(id, "bad_signature"));
    expect(await view(host, id)).toMatchObject({
      state: "failed",
      error: "rejected by the agent: bad_signature",
    });
  });

  test("unknown, foreign or ended ids change nothing but are still audited", async () => {
    const host = await addHost("db-3");
    const other = await addHost("db-4");
    const theirs = await enqueue(other);
    const ended = await enqueue(host);
    await recordCommandResult(t.deps, host, result(ended));
    await recordCommandRejected(t.deps, host, rejected(theirs, "wrong_host"));
    await recordCommandRejected(t.deps, host, rejected(ended, "malformed"));
    await recordCommandRejected(t.deps, host, rejected(null, "malformed"));
    expect((await view(other, theirs)).state).toBe("queued");
    expect((await view(host, ended)).state).toBe("succeeded");
    const audit = await t.database.rawSql(
      `select resource_id, details from audit_log
       where action = 'agent.command_rejected' and actor_id = '${host.id}' order by seq`,
    );
    expect(audit.map((r) => r.resource_id)).toEqual([theirs, ended, null]);
    expect(audit[2]?.details).toEqual({
      reason: "malformed",
      detail: "detail of malformed",
      commandId: null,
    });
  });
});
