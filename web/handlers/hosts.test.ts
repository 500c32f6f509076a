import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { TOOL_NAMES } from "../../agent/protocol/host-report.ts";
import { hostMetrics, hosts } from "../../db/schema.ts";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { addTestMember, addTestTenant, setupAcme } from "../../scripts/testing/members.ts";
import { formPost, pageGet, pageText, panelSignIn } from "../../scripts/testing/panel.ts";
import { insertTestSite } from "../../scripts/testing/sites.ts";

let t: TestApp;
let admin: string;
let viewer: string;
let outsider: string;
const TOKEN = /cde_[a-z2-7]{52}/g;

const page = (cookie: string, path: string, status?: number) => pageText(t, cookie, path, status);
const post = (cookie: string, path: string, fields: Record<string, string> = {}, origin?: string) =>
  formPost(t, cookie, path, fields, origin);

beforeAll(async () => {
  t = await createTestApp({ env: { CADDIS_RATE_LIMITS: "api=off;auth=off;pages=off" } });
  const { acme } = await setupAcme(t);
  const globex = await addTestTenant(t, "Globex");
  const member = (email: string, tenantId: string, roleId: string) =>
    addTestMember(t, { email, tenantId, roleIds: [roleId] });
  await member("admin@acme.test", acme, "role_admin");
  await member("viewer@acme.test", acme, "role_viewer");
  await member("admin@globex.test", globex, "role_admin");
  [admin, viewer, outsider] = await Promise.all([
    panelSignIn(t, "admin@acme.test"),
    panelSignIn(t, "viewer@acme.test"),
    panelSignIn(t, "admin@globex.test"),
  ]);
}, 30_000);
afterAll(() => t.close());

// Adds a host through the form; returns its id and the page that showed the command.
async function addHost(name: string): Promise<{ id: string; html: string }> {
  const res = await post(admin, "/hosts/new", { name });
  expect(res.status).toBe(200);
  const html = await res.text();
  const id = /href="\/hosts\/(host_[a-z2-7]+)"/.exec(html)?.[1];
  if (!id) throw new Error("the enrolment page links to no host");
  return { id, html };
}

describe("adding a host", () => {
  test("an anonymous visitor is sent to sign in", async () => {
    const res = await pageGet(t, undefined, "/hosts");
    expect(res.headers.get("location")).toBe("/login?next=%2Fhosts");
  });

  test("the command is shown once, with a copy button the CSP allows; reloads never show it", async () => {
    expect(await page(admin, "/hosts/new")).toContain(
      '<form class="panel narrow" method="post" action="/hosts/new">',
    );
    const res = await post(admin, "/hosts/new", { name: "Web-1" });
    expect(res.headers.get("cache-control")).toBe("no-store");
    const html = await res.text();
    const shown = html.match(TOKEN) ?? [];
    expect(shown).toHaveLength(1);
    expect(html).toContain(
      `<textarea id="enrol-command" rows="4" readonly="" autocomplete="off" spellcheck="false">` +
        `CADDIS_ENROL_TOKEN=${shown[0]} bun agent/main.ts enroll --api`,
    );
    expect(html).toContain('data-copy="enrol-command" hidden');
    expect(html).toMatch(/<script src="\/static\/copy\.js\?v=[0-9a-f]{12}" defer=""><\/script>/);
    expect(html).not.toMatch(/<script>|style="/);
    expect(t.logText()).not.toContain(shown[0] ?? "cde_");
    // Posting the form again (a reload) finds the name taken; no page shows the token again.
    const again = await post(admin, "/hosts/new", { name: "web-1" });
    expect(again.status).toBe(409);
    const id = /href="\/hosts\/(host_[a-z2-7]+)"/.exec(html)?.[1] ?? "";
    for (
      const text of [
        await again.text(),
        await page(admin, "/hosts"),
        await page(admin, `/hosts/${id}`),
      ]
    ) {
      expect(text).not.toMatch(TOKEN);
    }
  });

  test("a bad name comes back with the problem beside the field", async () => {
    const res = await post(admin, "/hosts/new", { name: "-bad" });
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain('value="-bad"');
    expect(html).toContain("Name may hold only letters, digits and hyphens");
  });

  test("a cross-origin post is refused", async () => {
    const res = await post(admin, "/hosts/new", { name: "csrf" }, "https://evil.example");
    expect(res.status).toBe(403);
    expect(await page(admin, "/hosts")).not.toContain(">csrf<");
  });

  test("a viewer sees the list without the add link, and cannot add", async () => {
    const html = await page(viewer, "/hosts");
    expect(html).toContain('<a href="/hosts" aria-current="page">Hosts</a>');
    expect(html).not.toContain('href="/hosts/new"');
    expect((await pageGet(t, viewer, "/hosts/new")).status).toBe(403);
    expect((await post(viewer, "/hosts/new", { name: "sneaky" })).status).toBe(403);
  });
});

describe("the host page", () => {
  test("lists the sites on this host, and no other host's", async () => {
    const { id } = await addHost("with-sites");
    const { id: otherId } = await addHost("other-sites");
    const db = t.deps.database.db;
    const [row] = await db.select({ tenantId: hosts.tenantId }).from(hosts).where(eq(hosts.id, id));
    const here = await insertTestSite(db, row!.tenantId, { hostId: id, domain: "here.example" });
    await insertTestSite(db, row!.tenantId, { hostId: otherId, domain: "there.example" });
    const html = await page(viewer, `/hosts/${id}`);
    expect(html).toContain(`<a href="/sites/${here.siteId}">here.example</a>`);
    expect(html).not.toContain("there.example");
    expect(await page(viewer, `/hosts/${otherId}`)).toContain("there.example");
  });

  test("lists the host with its status, mode, drift, facts, tools and usage", async () => {
    const { id } = await addHost("web-2");
    const now = t.deps.now();
    await t.deps.database.db.update(hosts).set({
      enrolledAt: now,
      publicKey: "k",
      connectedReplica: t.deps.replicaId,
      lastSeenAt: now,
      agentVersion: "0.1.0",
      protocolVersion: 1,
      mode: "sandbox",
      modeReason: "not running as root",
      facts: {
        hostname: "web-2.internal",
        os: "Debian GNU/Linux 13",
        kernel: "6.12.0",
        arch: "x64",
        cpuModel: "Test CPU",
        cpuCount: 2,
        memoryBytes: 4 * 1024 ** 3,
        disk: { path: "/", totalBytes: 100 * 1024 ** 3, freeBytes: 60 * 1024 ** 3 },
      },
      inventory: Object.fromEntries(TOOL_NAMES.map((name) => [
        name,
        name === "caddy"
          ? { present: true, path: "/usr/bin/caddy", version: "v2.6.2" }
          : { present: false, path: null, version: null },
      ])),
    }).where(eq(hosts.id, id));
    const sample = (minutesAgo: number, cpuPercent: number) => ({
      hostId: id,
      at: new Date(now.getTime() - minutesAgo * 60_000),
      cpuPercent,
      load1: 0.5,
      load5: 0.25,
      load15: 0.125,
      memoryUsedBytes: 1024 ** 3,
      memoryTotalBytes: 4 * 1024 ** 3,
      diskUsedBytes: 40 * 1024 ** 3,
      diskTotalBytes: 100 * 1024 ** 3,
    });
    await t.deps.database.db.insert(hostMetrics).values([sample(2, 10), sample(1, 42)]);

    const list = await page(viewer, "/hosts");
    expect(list).toContain(`<a href="/hosts/${id}">web-2</a>`);
    expect(list).toContain('<span class="badge badge-ok">Online</span>');
    expect(list).toContain("not running as root");

    const html = await page(viewer, `/hosts/${id}`);
    expect(html).toContain("web-2.internal");
    expect(html).toContain("Test CPU, 2 cores");
    expect(html).toContain("60 GiB free of 100 GiB");
    expect(html).toContain("<code>/usr/bin/caddy</code>");
    expect(html).toContain("v2.6.2");
    expect(html).toContain('<span class="badge badge-warn">Sandbox</span>');
    expect(html).toContain("42%");
    expect(html).toContain("0.50 / 0.25 / 0.13");
    expect(html).toContain("1 GiB of 4 GiB (25%)");
    expect(html).toContain("40 GiB of 100 GiB (40%)");
    expect(html.match(/<svg [^>]*class="sparkline"/g)).toHaveLength(4);
    expect(html).toContain('aria-label="CPU over the last 24 hours"');
    // Only what a viewer may do: nothing.
    expect(html).not.toContain("Diagnose");
    expect(html).not.toContain("Revoke");
  });

  test("Diagnose queues a command shown in the history", async () => {
    const { id } = await addHost("web-3");
    expect(await page(admin, `/hosts/${id}`)).toContain("New enrolment command");
    const res = await post(admin, `/hosts/${id}/diagnose`);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`/hosts/${id}?notice=diagnose`);
    const html = await page(admin, `/hosts/${id}?notice=diagnose`);
    expect(html).toContain("Diagnosis queued.");
    expect(html).toContain("<code>host.diagnose</code>");
    expect(html).toContain("Queued");
    expect((await post(viewer, `/hosts/${id}/diagnose`)).status).toBe(403);
  });

  test("a new enrolment command is shown once and replaces the old one", async () => {
    const { id, html: first } = await addHost("web-4");
    const res = await post(admin, `/hosts/${id}/enrolment`);
    expect(res.status).toBe(200);
    const second = await res.text();
    const [oldToken] = first.match(TOKEN) ?? [];
    const [newToken] = second.match(TOKEN) ?? [];
    expect(newToken).toBeDefined();
    expect(newToken).not.toBe(oldToken);
  });

  test("another tenant's host is a 404 page, for reading and for acting", async () => {
    const { id } = await addHost("web-5");
    expect(await page(outsider, `/hosts/${id}`, 404)).toContain("Host not found");
    expect((await post(outsider, `/hosts/${id}/diagnose`)).status).toBe(404);
    expect((await post(outsider, `/hosts/${id}/revoke`, { confirm: "yes" })).status).toBe(404);
    expect(await page(admin, `/hosts/${id}`)).toContain("web-5");
  });
});

describe("revoking a host", () => {
  test("asks first, then revokes: the host is gone from the list and its page", async () => {
    const { id } = await addHost("web-6");
    const ask = await post(admin, `/hosts/${id}/revoke`);
    expect(ask.status).toBe(200);
    const html = await ask.text();
    expect(html).toContain("Revoke web-6?");
    expect(html).toContain('<input type="hidden" name="confirm" value="yes"/>');
    expect(await page(admin, "/hosts")).toContain(">web-6<");
    const done = await post(admin, `/hosts/${id}/revoke`, { confirm: "yes" });
    expect(done.headers.get("location")).toBe("/hosts?notice=revoked");
    const list = await page(admin, "/hosts?notice=revoked");
    expect(list).toContain("Host revoked.");
    expect(list).not.toContain(">web-6<");
    expect(await page(admin, `/hosts/${id}`, 404)).toContain("Host not found");
  });

  test("a viewer cannot revoke", async () => {
    const { id } = await addHost("web-7");
    expect((await post(viewer, `/hosts/${id}/revoke`, { confirm: "yes" })).status).toBe(403);
    expect(await page(admin, "/hosts")).toContain(">web-7<");
  });
});
