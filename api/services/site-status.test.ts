import { afterAll, beforeAll, expect, test } from "bun:test";
import { and, eq } from "drizzle-orm";
import type { ObservedSite } from "../../agent/protocol/sites.ts";
import { newId } from "../../db/ids.ts";
import { auditLog, sites, tenants } from "../../db/schema.ts";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { insertEnrolledHost } from "../../scripts/testing/protocol-client.ts";
import { insertTestSite } from "../../scripts/testing/sites.ts";
import type { HostRef } from "./agent-commands.ts";
import { listOpenAlerts } from "./host-alerts.ts";
import { recordSiteStatuses } from "./site-status.ts";

let t: TestApp;
let tenantId: string;
let host: HostRef;

beforeAll(async () => {
  t = await createTestApp();
  tenantId = newId("ten");
  await t.deps.database.db.insert(tenants).values({ id: tenantId, name: "Acme" });
  const { hostId } = await insertEnrolledHost(t.deps.database.db, tenantId, "web-1");
  host = { id: hostId, tenantId, name: "web-1" };
});
afterAll(() => t.close());

const report = (id: string, status: ObservedSite["status"], extra: Partial<ObservedSite> = {}) => ({
  id,
  status,
  port: status === "running" ? 30_010 : null,
  lastError: null,
  ...extra,
});

async function siteRow(id: string) {
  const [row] = await t.deps.database.db.select().from(sites).where(eq(sites.id, id));
  return row;
}

test("stores each reported status; a failure raises one alert, running again resolves it", async () => {
  const { siteId } = await insertTestSite(t.deps.database.db, tenantId, {
    hostId: host.id,
    domain: "shop.example",
  });
  await recordSiteStatuses(t.deps, host, [report(siteId, "running")]);
  expect(await siteRow(siteId)).toMatchObject({ status: "running", livePort: 30_010 });
  const crash = report(siteId, "failed", { lastError: "PHP Fatal error: out of memory" });
  await recordSiteStatuses(t.deps, host, [crash]);
  await recordSiteStatuses(t.deps, host, [crash]);
  expect(await siteRow(siteId)).toMatchObject({
    status: "failed",
    lastError: "PHP Fatal error: out of memory",
    livePort: null,
  });
  const open = await listOpenAlerts(t.deps.database.db, tenantId);
  expect(open.map((a) => [a.kind, a.siteId, a.message])).toEqual([[
    "site_failed",
    siteId,
    'Site "shop.example" on host "web-1" failed: PHP Fatal error: out of memory',
  ]]);
  await recordSiteStatuses(t.deps, host, [report(siteId, "running")]);
  expect(await listOpenAlerts(t.deps.database.db, tenantId)).toEqual([]);
  const audited = await t.deps.database.db.select({ action: auditLog.action }).from(auditLog)
    .where(and(eq(auditLog.resourceId, host.id), eq(auditLog.tenantId, tenantId)));
  expect(audited.map((a) => a.action)).toEqual(["host.alert.raised", "host.alert.resolved"]);
});

test("two failing sites on one host each get their own alert", async () => {
  const db = t.deps.database.db;
  const a = await insertTestSite(db, tenantId, { hostId: host.id, domain: "a.example" });
  const b = await insertTestSite(db, tenantId, { hostId: host.id, domain: "b.example" });
  await recordSiteStatuses(t.deps, host, [report(a.siteId, "failed"), report(b.siteId, "failed")]);
  const open = await listOpenAlerts(db, tenantId);
  expect(open.map((alert) => alert.siteId).sort()).toEqual([a.siteId, b.siteId].sort());
  await recordSiteStatuses(t.deps, host, [
    report(a.siteId, "stopped"),
    report(b.siteId, "pending"),
  ]);
  expect(await listOpenAlerts(db, tenantId)).toEqual([]);
});

test("an agent cannot report on another host's site, in its tenant or another", async () => {
  const db = t.deps.database.db;
  const otherTenant = newId("ten");
  await db.insert(tenants).values({ id: otherTenant, name: "Globex" });
  const theirs = await insertTestSite(db, otherTenant, { domain: "theirs.example" });
  const sibling = await insertTestSite(db, tenantId, { domain: "sibling.example" });
  await recordSiteStatuses(t.deps, host, [
    report(theirs.siteId, "failed", { lastError: "forged" }),
    report(sibling.siteId, "failed", { lastError: "forged" }),
  ]);
  for (const id of [theirs.siteId, sibling.siteId]) {
    expect(await siteRow(id)).toMatchObject({ status: "pending", lastError: null });
  }
  expect(await listOpenAlerts(db, otherTenant)).toEqual([]);
});
