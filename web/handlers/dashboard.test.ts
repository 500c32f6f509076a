import { afterAll, beforeAll, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { hosts } from "../../db/schema.ts";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { memberAccess } from "../../scripts/testing/auth.ts";
import { addTestMember, addTestTenant, setupAcme } from "../../scripts/testing/members.ts";
import { pageText, panelSignIn } from "../../scripts/testing/panel.ts";
import { type AuditContext } from "../../api/services/audit.ts";
import { raiseHostAlert } from "../../api/services/host-alerts.ts";
import { createHostRecord } from "../../api/services/host-enrolment.ts";
import { revokeHost } from "../../api/services/hosts.ts";
import { insertTestSite } from "../../scripts/testing/sites.ts";

let t: TestApp;
let acme: string;
let globex: string;
let viewer: string;
let auditor: string;
const audit: AuditContext = { actor: { kind: "system" } };
// The real time, nudged forward by hand so alerts raised one after another never share a time.
let offsetMs = 0;
const tick = () => (offsetMs += 1_000);

async function addHost(tenantId: string, name: string, seen?: Date) {
  const { host } = await t.deps.database.db.transaction((tx) =>
    createHostRecord(tx, t.deps, { tenantId, name, isLocal: false, createdBy: null })
  );
  if (seen) {
    await t.deps.database.db.update(hosts)
      .set({ enrolledAt: seen, connectedReplica: t.deps.replicaId, lastSeenAt: seen })
      .where(eq(hosts.id, host.id));
  }
  return { id: host.id, tenantId, name };
}

beforeAll(async () => {
  t = await createTestApp({
    env: { CADDIS_RATE_LIMITS: "api=off;auth=off;pages=off" },
    now: () => new Date(Date.now() + offsetMs),
  });
  ({ acme } = await setupAcme(t));
  globex = await addTestTenant(t, "Globex");
  await addTestMember(t, { email: "viewer@acme.test", tenantId: acme, roleIds: ["role_viewer"] });
  await addTestMember(t, { email: "auditor@acme.test", tenantId: acme, roleIds: ["role_auditor"] });
  [viewer, auditor] = await Promise.all([
    panelSignIn(t, "viewer@acme.test"),
    panelSignIn(t, "auditor@acme.test"),
  ]);
}, 30_000);
afterAll(() => t.close());

test("counts the tenant's hosts by status and lists its open alerts, newest first", async () => {
  const now = t.deps.now();
  const up = await addHost(acme, "up", now);
  const down = await addHost(acme, "down", new Date(now.getTime() - 10 * 60_000));
  await addHost(acme, "new");
  const gone = await addHost(acme, "gone", now);
  const elsewhere = await addHost(globex, "elsewhere", now);
  await raiseHostAlert(t.deps, down, "offline", 'Host "down" has been offline since earlier');
  tick();
  await raiseHostAlert(t.deps, up, "disk_full", 'Disk on host "up" is 93% full');
  await raiseHostAlert(t.deps, gone, "disk_full", 'Disk on host "gone" is 99% full');
  await raiseHostAlert(t.deps, elsewhere, "disk_full", 'Disk on host "elsewhere" is 95% full');
  await revokeHost(t.deps, memberAccess(["hosts.delete"], acme), audit, gone.id);

  const html = await pageText(t, viewer, "/");
  expect(html).toContain("1 online, 1 offline, 1 waiting for enrolment.");
  const up93 = html.indexOf("Disk on host &quot;up&quot; is 93% full");
  const downSince = html.indexOf("Host &quot;down&quot; has been offline since earlier");
  expect(up93).toBeGreaterThan(0);
  expect(downSince).toBeGreaterThan(up93);
  expect(html).toContain(`<a href="/hosts/${up.id}">up</a>`);
  expect(html).not.toContain("gone");
  expect(html).not.toContain("elsewhere");
  expect(html).toContain('<a href="/status">Service status</a>');
});

test("someone who may not see hosts gets neither the counts nor the alerts", async () => {
  const html = await pageText(t, auditor, "/");
  expect(html).toContain("Your roles in this organisation do not include seeing its hosts.");
  expect(html).not.toContain("online");
  expect(html).not.toContain("Disk on host");
  expect(html).not.toContain('href="/hosts"');
});

test("a failed site's alert links to the site's page", async () => {
  const host = await addHost(acme, "sites-host", t.deps.now());
  const { siteId } = await insertTestSite(t.deps.database.db, acme, {
    hostId: host.id,
    domain: "crashy.example",
  });
  tick();
  await raiseHostAlert(t.deps, host, "site_failed", 'Site "crashy.example" keeps crashing', siteId);
  const html = await pageText(t, viewer, "/");
  expect(html).toContain(
    `<a href="/sites/${siteId}">Site &quot;crashy.example&quot; keeps crashing</a>`,
  );
  expect(html).toContain(`<a href="/hosts/${host.id}">sites-host</a>`);
});
