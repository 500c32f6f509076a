import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { and, eq } from "drizzle-orm";
import { TIMING } from "../../agent/protocol/version.ts";
import { agentCommands, auditLog, hostMetrics, hosts } from "../../db/schema.ts";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { memberAccess } from "../../scripts/testing/auth.ts";
import { addTestMember, addTestTenant, setupAcme } from "../../scripts/testing/members.ts";
import { waitFor } from "../../scripts/testing/wait.ts";
import { recordHostEvents } from "../../scripts/testing/host-events.ts";
import type { Permission } from "../auth/permissions.ts";
import type { Access } from "../auth/route-access.ts";
import { AppError } from "../errors.ts";
import { cancelCommand, getHostCommand } from "./agent-commands.ts";
import type { AuditContext } from "./audit.ts";
import { createHost } from "./host-enrolment.ts";
import type { HostEvent } from "./host-events.ts";
import { getCommandOfHost, hostMetricSeries, listCommandsOfHost } from "./host-history.ts";
import { diagnoseHost, getHost, listHosts, revokeHost } from "./hosts.ts";

let t: TestApp;
let acme: string;
let globex: string;
let admin: Access;
let outsider: Access;
const clock = new Date("2030-01-01T00:00:00.000Z");
let events: HostEvent[];
let stopListening: () => Promise<void>;
const audit: AuditContext = { actor: { kind: "user", id: "usr_admin" } };
const ALL_HOSTS: Permission[] = ["hosts.create", "hosts.read", "hosts.update", "hosts.delete"];

beforeAll(async () => {
  t = await createTestApp({ now: () => clock });
  ({ acme } = await setupAcme(t));
  globex = await addTestTenant(t, "Globex");
  const member = await addTestMember(t, {
    email: "admin@acme.test",
    tenantId: acme,
    roleIds: ["role_admin"],
  });
  admin = memberAccess(ALL_HOSTS, acme, member.userId);
  outsider = memberAccess(ALL_HOSTS, globex, member.userId);
  ({ events, stop: stopListening } = await recordHostEvents(t.deps.database));
});
afterAll(async () => {
  await stopListening();
  await t.close();
});

async function failure(promise: Promise<unknown>): Promise<AppError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  if (!(err instanceof AppError)) throw new Error(`expected an AppError, got ${String(err)}`);
  return err;
}

async function addHost(name: string) {
  return (await createHost(t.deps, admin, audit, { name })).host;
}

// What the hub writes when an agent is connected and has said hello.
async function connect(hostId: string, lastSeenAt: Date) {
  await t.deps.database.db.update(hosts).set({
    enrolledAt: clock,
    publicKey: "k",
    connectedReplica: t.deps.replicaId,
    lastSeenAt,
    agentVersion: "0.1.0",
    protocolVersion: 1,
    mode: "sandbox",
    modeReason: "not running as root",
    observedRevision: 1,
    observed: { sections: { sites: { ok: true, drift: [], error: null } } },
  }).where(eq(hosts.id, hostId));
}

describe("listHosts and getHost", () => {
  test("list the tenant's live hosts by name with their status", async () => {
    const zulu = await addHost("zulu");
    const alpha = await addHost("alpha");
    await connect(alpha.id, new Date(clock.getTime() - 1_000));
    await connect(zulu.id, new Date(clock.getTime() - TIMING.peerTimeoutMs - 1));
    const listed = await listHosts(t.deps, admin);
    expect(listed.map((h) => [h.name, h.status, h.drift])).toEqual([
      ["alpha", "online", false],
      ["zulu", "offline", false],
    ]);
    expect(await getHost(t.deps, admin, alpha.id)).toMatchObject({
      name: "alpha",
      enrolled: true,
      mode: "sandbox",
      modeReason: "not running as root",
      sections: { sites: { ok: true, drift: [], error: null } },
    });
    expect(await listHosts(t.deps, outsider)).toEqual([]);
  });

  test("another tenant's host is a 404, as is a revoked one; reading needs hosts.read", async () => {
    const host = await addHost("hidden");
    expect((await failure(getHost(t.deps, outsider, host.id))).code).toBe("not_found");
    const writer = memberAccess(["hosts.create"], acme, admin.auth.userId);
    expect((await failure(getHost(t.deps, writer, host.id))).code).toBe("forbidden");
    await revokeHost(t.deps, admin, audit, host.id);
    expect((await failure(getHost(t.deps, admin, host.id))).code).toBe("not_found");
    expect((await listHosts(t.deps, admin)).map((h) => h.id)).not.toContain(host.id);
  });
});

describe("revokeHost", () => {
  test("revokes, kills the unused token, cancels open commands, tells the hub, and audits", async () => {
    const host = await addHost("doomed");
    const command = await diagnoseHost(t.deps, admin, audit, host.id);
    await revokeHost(t.deps, admin, audit, host.id);
    const [row] = await t.deps.database.db.select().from(hosts).where(eq(hosts.id, host.id));
    expect(row?.revokedAt?.toISOString()).toBe(clock.toISOString());
    expect(row?.enrolmentTokenHash).toBeNull();
    const cancelled = await getHostCommand(t.deps.database.db, host.id, command.id);
    expect([cancelled.state, cancelled.error]).toEqual(["cancelled", "host revoked"]);
    await waitFor(
      "the revoked event",
      () => events.some((e) => e.event === "revoked" && e.hostId === host.id),
    );
    const audits = await t.deps.database.db.select().from(auditLog)
      .where(eq(auditLog.resourceId, host.id));
    expect(audits.find((a) => a.action === "host.revoke")?.details)
      .toEqual({ name: "doomed", cancelledCommands: 1 });
  });

  test("needs hosts.delete; another tenant's host and a second revocation are 404s", async () => {
    const host = await addHost("guarded");
    const updater = memberAccess(["hosts.read", "hosts.update"], acme, admin.auth.userId);
    expect((await failure(revokeHost(t.deps, updater, audit, host.id))).code).toBe("forbidden");
    expect((await failure(revokeHost(t.deps, outsider, audit, host.id))).code).toBe("not_found");
    await revokeHost(t.deps, admin, audit, host.id);
    expect((await failure(revokeHost(t.deps, admin, audit, host.id))).code).toBe("not_found");
  });
});

describe("diagnoseHost and the command history", () => {
  test("queues host.diagnose for the host, audited, and wakes the hub", async () => {
    const host = await addHost("diag");
    const command = await diagnoseHost(t.deps, admin, audit, host.id);
    expect(command).toMatchObject({
      hostId: host.id,
      siteId: null,
      kind: "host.diagnose",
      state: "queued",
      issuedBy: admin.auth.userId,
    });
    await waitFor(
      "the commands event",
      () => events.some((e) => e.event === "commands" && e.hostId === host.id),
    );
    const [row] = await t.deps.database.db.select().from(auditLog)
      .where(and(eq(auditLog.action, "host.diagnose"), eq(auditLog.resourceId, host.id)));
    expect(row?.details).toEqual({ commandId: command.id });
    expect(await listCommandsOfHost(t.deps, admin, host.id, { limit: 10 })).toEqual([command]);
    expect(await getCommandOfHost(t.deps, admin, host.id, command.id)).toEqual(command);
  });

  test("pages through the history newest first", async () => {
    const host = await addHost("paged");
    const first = await diagnoseHost(t.deps, admin, audit, host.id);
    const second = await diagnoseHost(t.deps, admin, audit, host.id);
    const page = await listCommandsOfHost(t.deps, admin, host.id, { limit: 1 });
    expect(page.map((c) => c.id)).toEqual([second.id]);
    const next = await listCommandsOfHost(t.deps, admin, host.id, {
      limit: 1,
      before: page[0]?.seq,
    });
    expect(next.map((c) => c.id)).toEqual([first.id]);
  });

  test("cancels a queued command; a command of another host is a 404", async () => {
    const host = await addHost("cancel");
    const other = await addHost("cancel-other");
    const command = await diagnoseHost(t.deps, admin, audit, host.id);
    expect((await failure(cancelCommand(t.deps, admin, audit, other.id, command.id))).code)
      .toBe("not_found");
    expect((await cancelCommand(t.deps, admin, audit, host.id, command.id)).state)
      .toBe("cancelled");
  });

  test("another tenant, a revoked host, or a missing permission get no history", async () => {
    const host = await addHost("private");
    const command = await diagnoseHost(t.deps, admin, audit, host.id);
    const reader = memberAccess(["hosts.read"], acme, admin.auth.userId);
    expect((await failure(diagnoseHost(t.deps, reader, audit, host.id))).code).toBe("forbidden");
    expect((await failure(cancelCommand(t.deps, reader, audit, host.id, command.id))).code)
      .toBe("forbidden");
    for (
      const read of [
        () => listCommandsOfHost(t.deps, outsider, host.id, { limit: 10 }),
        () => getCommandOfHost(t.deps, outsider, host.id, command.id),
        () => hostMetricSeries(t.deps, outsider, host.id, 1),
        () => diagnoseHost(t.deps, outsider, audit, host.id),
      ]
    ) {
      expect((await failure(read())).code).toBe("not_found");
    }
    await revokeHost(t.deps, admin, audit, host.id);
    expect((await failure(listCommandsOfHost(t.deps, admin, host.id, { limit: 10 }))).code)
      .toBe("not_found");
    expect((await failure(diagnoseHost(t.deps, admin, audit, host.id))).code).toBe("not_found");
  });
});

describe("diagnoseHost against revocation and other tenants", () => {
  const countOf = async (hostId: string) => ({
    commands: (await t.deps.database.db.select().from(agentCommands)
      .where(eq(agentCommands.hostId, hostId))).length,
    audited: (await t.deps.database.db.select().from(auditLog)
      .where(and(eq(auditLog.action, "host.diagnose"), eq(auditLog.resourceId, hostId)))).length,
  });

  test("a refused diagnose writes neither a command nor an audit row", async () => {
    const host = await addHost("refused");
    expect((await failure(diagnoseHost(t.deps, outsider, audit, host.id))).code).toBe("not_found");
    expect(await countOf(host.id)).toEqual({ commands: 0, audited: 0 });
    await revokeHost(t.deps, admin, audit, host.id);
    expect((await failure(diagnoseHost(t.deps, admin, audit, host.id))).code).toBe("not_found");
    expect(await countOf(host.id)).toEqual({ commands: 0, audited: 0 });
  });

  test("a revocation racing diagnoses leaves no open command, and each command is audited", async () => {
    const host = await addHost("raced");
    // Each diagnose either lands before the revocation (which then cancels it) or is refused.
    const tries = Array.from({ length: 12 }, () => diagnoseHost(t.deps, admin, audit, host.id));
    const revoked = revokeHost(t.deps, admin, audit, host.id);
    const outcomes = await Promise.allSettled([...tries, revoked]);
    const refused = outcomes.filter((o) => o.status === "rejected");
    for (const o of refused) {
      expect(((o as PromiseRejectedResult).reason as AppError).code).toBe("not_found");
    }
    const rows = await t.deps.database.db.select().from(agentCommands)
      .where(eq(agentCommands.hostId, host.id));
    expect(rows.filter((r) => ["queued", "sent", "running"].includes(r.state))).toEqual([]);
    expect(await countOf(host.id)).toEqual({ commands: rows.length, audited: rows.length });
    expect(rows.length + refused.length).toBe(tries.length);
  });
});

describe("hostMetricSeries", () => {
  test("returns the samples of the last hours asked for, oldest first", async () => {
    const host = await addHost("metered");
    const sample = (minutesAgo: number, cpuPercent: number) => ({
      hostId: host.id,
      at: new Date(clock.getTime() - minutesAgo * 60_000),
      cpuPercent,
      load1: 0.5,
      load5: 0.4,
      load15: 0.3,
      memoryUsedBytes: 1,
      memoryTotalBytes: 2,
      diskUsedBytes: 3,
      diskTotalBytes: 4,
    });
    await t.deps.database.db.insert(hostMetrics)
      .values([sample(90, 10), sample(30, 20), sample(1, 30)]);
    expect((await hostMetricSeries(t.deps, admin, host.id, 1)).map((p) => p.cpuPercent))
      .toEqual([20, 30]);
    expect((await hostMetricSeries(t.deps, admin, host.id, 24)).map((p) => p.cpuPercent))
      .toEqual([10, 20, 30]);
  });
});
