import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { MetricsSample } from "../../agent/protocol/host-report.ts";
import { newId } from "../../db/ids.ts";
import { hosts } from "../../db/schema.ts";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { addTestTenant } from "../../scripts/testing/members.ts";
import type { HostRef } from "./agent-commands.ts";
import { listOpenAlerts } from "./host-alerts.ts";
import { metricSeries, pruneMetrics, recordMetrics } from "./host-metrics.ts";
import { runMaintenance } from "./maintenance.ts";

const START = new Date("2030-01-01T12:00:00.000Z");
const at = (minutes: number) => new Date(START.getTime() + minutes * 60_000);
let t: TestApp;
let tenantId: string;

beforeAll(async () => {
  t = await createTestApp({ now: () => START });
  tenantId = await addTestTenant(t, "Acme");
});
afterAll(() => t.close());

async function addHost(name: string): Promise<HostRef> {
  const id = newId("host");
  await t.deps.database.db.insert(hosts)
    .values({ id, tenantId, name, enrolledAt: START, publicKey: "k" });
  return { id, tenantId, name };
}

function sample(minutes: number, diskUsedBytes = 50, extra: Partial<MetricsSample> = {}) {
  return {
    at: at(minutes).toISOString(),
    cpuPercent: 12.5,
    load1: 0.5,
    load5: 0.25,
    load15: 0.125,
    memoryUsedBytes: 1_000_000,
    memoryTotalBytes: 4_000_000,
    diskUsedBytes,
    diskTotalBytes: 100,
    ...extra,
  } satisfies MetricsSample;
}

describe("recordMetrics and metricSeries", () => {
  test("stores samples, ignores a repeated one, and reads them back oldest first", async () => {
    const host = await addHost("web-1");
    const other = await addHost("web-2");
    await recordMetrics(t.deps, host, sample(-1));
    await recordMetrics(t.deps, host, sample(-3));
    await recordMetrics(t.deps, host, sample(-2, 60, { cpuPercent: 99 }));
    await recordMetrics(t.deps, host, sample(-2, 70, { cpuPercent: 1 }));
    await recordMetrics(t.deps, other, sample(-2));
    const series = await metricSeries(t.deps.database.db, host.id, at(-2));
    expect(series).toEqual([sample(-2, 60, { cpuPercent: 99 }), sample(-1)]);
    expect(await metricSeries(t.deps.database.db, host.id, at(-60))).toHaveLength(3);
  });
});

describe("the disk alert", () => {
  test("a disk over 90% raises one audited alert; back under, it is resolved and audited", async () => {
    const host = await addHost("db-1");
    await recordMetrics(t.deps, host, sample(-3, 90));
    expect(await listOpenAlerts(t.deps.database.db, tenantId)).toEqual([]);
    await recordMetrics(t.deps, host, sample(-2, 93));
    await recordMetrics(t.deps, host, sample(-1, 95));
    const open = await listOpenAlerts(t.deps.database.db, tenantId);
    expect(open).toEqual([{
      id: expect.any(String),
      hostId: host.id,
      hostName: "db-1",
      kind: "disk_full",
      siteId: null,
      message: 'Disk on host "db-1" is 93% full',
      raisedAt: START.toISOString(),
    }]);
    await recordMetrics(t.deps, host, sample(0, 40));
    expect(await listOpenAlerts(t.deps.database.db, tenantId)).toEqual([]);
    const audit = await t.database.rawSql(
      `select action, actor_kind, tenant_id, details from audit_log
       where resource_id = '${host.id}' order by seq`,
    );
    const details = { kind: "disk_full", message: 'Disk on host "db-1" is 93% full' };
    expect(audit).toEqual([
      { action: "host.alert.raised", actor_kind: "system", tenant_id: tenantId, details },
      { action: "host.alert.resolved", actor_kind: "system", tenant_id: tenantId, details },
    ]);
  });

  test("a disk reporting no size raises nothing", async () => {
    const host = await addHost("db-2");
    await recordMetrics(t.deps, host, sample(0, 0, { diskTotalBytes: 0 }));
    expect(await listOpenAlerts(t.deps.database.db, tenantId)).toEqual([]);
  });
});

describe("pruning", () => {
  test("keeps the last 24 hours, also from hourly maintenance", async () => {
    const host = await addHost("old-1");
    const day = 24 * 60;
    await recordMetrics(t.deps, host, sample(-day - 1));
    await recordMetrics(t.deps, host, sample(-day + 1));
    await recordMetrics(t.deps, host, sample(-day - 2));
    expect(await pruneMetrics(t.deps.database.db, START)).toBe(2);
    expect((await metricSeries(t.deps.database.db, host.id, at(-2 * day))).map((p) => p.at))
      .toEqual([at(-day + 1).toISOString()]);
    await recordMetrics(t.deps, host, sample(-day - 5));
    expect((await runMaintenance(t.deps)).metrics).toBe(1);
    expect(await metricSeries(t.deps.database.db, host.id, at(-2 * day))).toHaveLength(1);
  });
});
