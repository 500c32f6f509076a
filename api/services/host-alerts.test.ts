import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { newId } from "../../db/ids.ts";
import { hosts } from "../../db/schema.ts";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { addTestTenant } from "../../scripts/testing/members.ts";
import type { HostRef } from "./agent-commands.ts";
import {
  listOpenAlerts,
  raiseHostAlert,
  resolveHostAlert,
  sweepOfflineHosts,
} from "./host-alerts.ts";

const START = new Date("2030-01-01T12:00:00.000Z");
const at = (seconds: number) => new Date(START.getTime() + seconds * 1000);
let clock = START;
let t: TestApp;
let tenantId: string;
let otherTenantId: string;

beforeAll(async () => {
  t = await createTestApp({ now: () => clock });
  tenantId = await addTestTenant(t, "Acme");
  otherTenantId = await addTestTenant(t, "Globex");
});
afterAll(() => t.close());

async function addHost(
  name: string,
  values: Partial<typeof hosts.$inferInsert> = {},
  tenant = tenantId,
): Promise<HostRef> {
  const id = newId("host");
  await t.deps.database.db.insert(hosts)
    .values({
      id,
      tenantId: tenant,
      name,
      enrolledAt: at(-3600),
      publicKey: "k",
      lastSeenAt: START,
      ...values,
    });
  return { id, tenantId: tenant, name };
}

const openAlerts = () => listOpenAlerts(t.deps.database.db, tenantId);
const auditCount = async (hostId: string, action: string) =>
  (await t.database.rawSql(
    `select 1 from audit_log where resource_id = '${hostId}' and action = '${action}'`,
  )).length;

describe("raiseHostAlert and resolveHostAlert", () => {
  test("one open alert per host and kind: raising it again or resolving nothing is a no-op", async () => {
    clock = START;
    const host = await addHost("web-1");
    await raiseHostAlert(t.deps, host, "disk_full", "first");
    await raiseHostAlert(t.deps, host, "disk_full", "second");
    await raiseHostAlert(t.deps, host, "offline", "gone");
    expect((await openAlerts()).map((a) => [a.kind, a.message]).sort()).toEqual([
      ["disk_full", "first"],
      ["offline", "gone"],
    ]);
    expect(await auditCount(host.id, "host.alert.raised")).toBe(2);
    await resolveHostAlert(t.deps, host, "disk_full");
    await resolveHostAlert(t.deps, host, "disk_full");
    expect(await auditCount(host.id, "host.alert.resolved")).toBe(1);
    // Once resolved, the same kind can be raised again.
    await raiseHostAlert(t.deps, host, "disk_full", "third");
    expect((await openAlerts()).map((a) => a.message).sort()).toEqual(["gone", "third"]);
    await resolveHostAlert(t.deps, host, "disk_full");
    await resolveHostAlert(t.deps, host, "offline");
  });

  test("the list shows only this tenant's hosts still in service", async () => {
    clock = START;
    const foreign = await addHost("web-2", {}, otherTenantId);
    const revoked = await addHost("web-3");
    await raiseHostAlert(t.deps, foreign, "offline", "theirs");
    await raiseHostAlert(t.deps, revoked, "offline", "revoked");
    await t.database.rawSql(`update hosts set revoked_at = now() where id = '${revoked.id}'`);
    expect(await openAlerts()).toEqual([]);
    expect((await listOpenAlerts(t.deps.database.db, otherTenantId)).map((a) => a.message))
      .toEqual(["theirs"]);
    await resolveHostAlert(t.deps, foreign, "offline");
  });
});

describe("sweepOfflineHosts", () => {
  test("raises offline for hosts silent over two minutes, once, and resolves it when they return", async () => {
    clock = START;
    const silent = await addHost("quiet", { lastSeenAt: at(-121), connectedReplica: null });
    await addHost("stale", { lastSeenAt: at(-150), connectedReplica: "replica-a" });
    await addHost("fresh", { lastSeenAt: at(-119), connectedReplica: "replica-a" });
    await addHost("never", { lastSeenAt: null, enrolledAt: at(-600) });
    await addHost("pending", { enrolledAt: null, publicKey: null, lastSeenAt: null });
    await addHost("revoked", { lastSeenAt: at(-3600), revokedAt: at(-3000) });
    expect(await sweepOfflineHosts(t.deps)).toBe(3);
    const alerts = await openAlerts();
    expect(alerts.map((a) => a.message).sort()).toEqual([
      `Host "never" has been offline since ${at(-600).toISOString()}`,
      `Host "quiet" has been offline since ${at(-121).toISOString()}`,
      `Host "stale" has been offline since ${at(-150).toISOString()}`,
    ]);
    expect(alerts.every((a) => a.kind === "offline")).toBe(true);
    expect(await sweepOfflineHosts(t.deps)).toBe(0);
    expect(await auditCount(silent.id, "host.alert.raised")).toBe(1);

    // A minute later the fresh host has gone quiet too; the quiet one is back.
    clock = at(60);
    await t.database.rawSql(`update hosts set last_seen_at = '${at(55).toISOString()}'
      where id = '${silent.id}'`);
    expect(await sweepOfflineHosts(t.deps)).toBe(1);
    const names = (await openAlerts()).map((a) => a.hostName).sort();
    expect(names).toEqual(["fresh", "never", "stale"]);
    expect(await auditCount(silent.id, "host.alert.resolved")).toBe(1);
  });
});
