import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { and, eq } from "drizzle-orm";
import { newId } from "../../db/ids.ts";
import { agentCommands, hosts, sites, userRoles } from "../../db/schema.ts";
import { desiredStateFor } from "../../api/services/desired-state.ts";
import type { SiteView } from "../../api/services/site-view.ts";
import { callApi } from "../../scripts/testing/api.ts";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { addTestMember, addTestTenant, setupAcme } from "../../scripts/testing/members.ts";
import { formPost, pageGet, pageText, panelSignIn } from "../../scripts/testing/panel.ts";
import { insertEnrolledHost } from "../../scripts/testing/protocol-client.ts";
import { insertTestSite } from "../../scripts/testing/sites.ts";

// Many page requests per test, each signing and rendering; PostgreSQL runs are slower still.
setDefaultTimeout(30_000);

let t: TestApp;
let acme: string;
let hostId: string;
let admin: string;
let viewer: string;
let scoped: string;
let outsider: string;
let adminToken: string;
let scopedSite: string;
const SECRET = "hunter2-must-never-be-rendered";
const SITE_LINK = /^\/sites\/(site_[a-z2-7]+)\?notice=created$/;

const page = (cookie: string, path: string, status?: number) => pageText(t, cookie, path, status);
const post = (cookie: string, path: string, fields: Record<string, string> = {}, origin?: string) =>
  formPost(t, cookie, path, fields, origin);
const db = () => t.deps.database.db;
const siteCount = async () => (await db().select().from(sites)).length;

beforeAll(async () => {
  t = await createTestApp({ env: { CADDIS_RATE_LIMITS: "api=off;auth=off;pages=off" } });
  ({ acme } = await setupAcme(t));
  const globex = await addTestTenant(t, "Globex");
  const member = (email: string, tenantId: string, roleIds: string[]) =>
    addTestMember(t, { email, tenantId, roleIds });
  adminToken = (await member("admin@acme.test", acme, ["role_admin"])).accessToken;
  await member("viewer@acme.test", acme, ["role_viewer"]);
  const { userId: scopedId } = await member("dev@acme.test", acme, []);
  await member("admin@globex.test", globex, ["role_admin"]);
  hostId = (await insertEnrolledHost(db(), acme, "web-1")).hostId;
  await db().update(hosts).set({
    web: { httpPort: 8088, httpsPort: null, sitesDir: "/var/lib/caddis-agent/sites" },
  }).where(eq(hosts.id, hostId));
  // A viewer of one site only: a site-scoped assignment of the built-in viewer role.
  scopedSite = (await insertTestSite(db(), acme, { hostId, domain: "scoped.example" })).siteId;
  await db().insert(userRoles).values({
    id: newId("ura"),
    tenantId: acme,
    userId: scopedId,
    roleId: "role_viewer",
    siteId: scopedSite,
  });
  [admin, viewer, scoped, outsider] = await Promise.all([
    panelSignIn(t, "admin@acme.test"),
    panelSignIn(t, "viewer@acme.test"),
    panelSignIn(t, "dev@acme.test"),
    panelSignIn(t, "admin@globex.test"),
  ]);
}, 30_000);
afterAll(() => t.close());

// Creates a site through the form; returns its id.
async function createViaForm(fields: Record<string, string>): Promise<string> {
  const res = await post(admin, "/sites/new", { hostId, docroot: "public", ...fields });
  expect(res.status).toBe(303);
  const id = SITE_LINK.exec(res.headers.get("location") ?? "")?.[1];
  if (!id) throw new Error(`no site page to go to: ${res.headers.get("location")}`);
  return id;
}

async function apiView(id: string): Promise<SiteView> {
  const res = await callApi(t, adminToken, "GET", `/api/v1/sites/${id}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { site: SiteView }).site;
}

describe("the sites list", () => {
  test("an anonymous visitor is sent to sign in", async () => {
    const res = await pageGet(t, undefined, "/sites");
    expect(res.headers.get("location")).toBe("/login?next=%2Fsites");
  });

  test("an organisation without sites says so", async () => {
    const html = await page(outsider, "/sites");
    expect(html).toContain("No sites yet.");
    expect(html).toContain('<a href="/sites" aria-current="page">Sites</a>');
  });

  test("a viewer sees the sites with their status and no way to create one", async () => {
    const html = await page(viewer, "/sites");
    expect(html).toContain(`<a href="/sites/${scopedSite}">scoped.example</a>`);
    expect(html).toContain('<span class="badge badge-warn">Pending</span>');
    expect(html).toContain("<td>8088</td>");
    expect(html).not.toContain('href="/sites/new"');
    expect((await pageGet(t, viewer, "/sites/new")).status).toBe(403);
    expect((await post(viewer, "/sites/new", { hostId, domain: "v.example" })).status).toBe(403);
  });

  test("each status has its own badge", async () => {
    const id = await createViaForm({ domain: "badges.example" });
    const expectations = [
      ["running", '<span class="badge badge-ok">Running</span>'],
      ["failed", '<span class="badge badge-error">Failed</span>'],
      ["stopped", '<span class="badge muted">Stopped</span>'],
    ] as const;
    for (const [status, badge] of expectations) {
      await db().update(sites).set({ status }).where(eq(sites.id, id));
      expect(await page(viewer, "/sites")).toContain(badge);
    }
  });
});

describe("creating a site", () => {
  test("the form offers the tenant's hosts and the runtimes, host default first", async () => {
    const html = await page(admin, "/sites/new");
    expect(html).toContain('<form class="panel narrow" method="post" action="/sites/new">');
    expect(html).toContain(`<option value="${hostId}">web-1 (`);
    expect(html).toContain('<option value="" selected="">Host default</option>');
    expect(html).toContain('<option value="php-cli">php-cli</option>');
    expect(html).toContain('value="public"');
  });

  test("success redirects to the new site's page, which shows what was stored", async () => {
    const before = await siteCount();
    const id = await createViaForm({
      domain: "Bücher.Example",
      aliases: "www.bücher.example, shop.example\nblog.example",
      runtime: "php-cli",
    });
    expect(await siteCount()).toBe(before + 1);
    const view = await apiView(id);
    expect(view).toMatchObject({
      domain: "xn--bcher-kva.example",
      aliases: ["www.xn--bcher-kva.example", "shop.example", "blog.example"],
      runtime: "php-cli",
      status: "pending",
    });
    const html = await page(admin, `/sites/${id}?notice=created`);
    expect(html).toContain("Site created.");
    expect(html).toContain("<h1>xn--bcher-kva.example</h1>");
    expect(html).toContain("www.xn--bcher-kva.example, shop.example, blog.example");
    expect(html).toContain(`<code>/var/lib/caddis-agent/sites/${id}/current/public</code>`);
    expect(html).toContain(`${view.workerPort} and ${view.workerPort + 1} on 127.0.0.1`);
    // Pending: the status block polls itself; the fragment it fetches is that block alone.
    expect(html).toContain(`hx-get="/sites/${id}/status" hx-trigger="every 3s"`);
    const fragment = await page(viewer, `/sites/${id}/status`);
    expect(fragment).toStartWith('<div id="site-status" hx-get=');
    expect(fragment).not.toContain("<html");
    await db().update(sites).set({ status: "running", lastError: "<b>old</b> crash" })
      .where(eq(sites.id, id));
    const settled = await page(viewer, `/sites/${id}/status`);
    expect(settled).not.toContain("hx-get");
    expect(settled).toContain("<pre>&lt;b&gt;old&lt;/b&gt; crash</pre>");
  });

  test("hostile input comes back beside the field, escaped, and nothing is written", async () => {
    const before = await siteCount();
    const revision = (await desiredStateFor(t.deps, hostId)).revision;
    const cases: [Record<string, string>, string][] = [
      [{ domain: "a.com\nimport /etc/passwd" }, "Domain &quot;a.com\\u{a}import"],
      [{ domain: "{env.SECRET}.com" }, "Domain &quot;{env.SECRET}.com&quot; is not a valid"],
      [{ domain: "<script>alert(1)</script>.com" }, "Domain &quot;&lt;script&gt;"],
      [{ domain: "ok.example", aliases: "x.example\nbad example" }, "Aliases &quot;bad example"],
      [{ domain: "ok.example", docroot: "../../etc" }, "Document root must be a relative path"],
      [{ domain: "ok.example", runtime: "nodejs" }, "Runtime must be one of"],
      [{ domain: "ok.example", hostId: "host_x'; drop" }, "Host is not a host id"],
    ];
    for (const [fields, message] of cases) {
      const res = await post(admin, "/sites/new", { hostId, docroot: "public", ...fields });
      expect(res.status).toBe(400);
      const html = await res.text();
      expect(html).toContain(message);
      expect(html).toContain('class="field field-invalid"');
      expect(html).not.toContain("<script>alert");
    }
    const refilled = await (await post(admin, "/sites/new", { hostId, domain: "<b>x" })).text();
    expect(refilled).toContain('value="&lt;b&gt;x"');
    expect(await siteCount()).toBe(before);
    expect((await desiredStateFor(t.deps, hostId)).revision).toBe(revision);
  });

  test("a name already taken is a form error (409) with the user's values kept", async () => {
    await createViaForm({ domain: "taken.example" });
    const res = await post(admin, "/sites/new", {
      hostId,
      domain: "TAKEN.example",
      docroot: "web",
    });
    expect(res.status).toBe(409);
    const html = await res.text();
    expect(html).toContain("The domain &quot;taken.example&quot; is already used by another site");
    expect(html).toContain('value="TAKEN.example"');
    expect(html).toContain('value="web"');
  });

  test("a cross-origin post is refused", async () => {
    const before = await siteCount();
    const res = await post(
      admin,
      "/sites/new",
      { hostId, domain: "csrf.example" },
      "https://evil.example",
    );
    expect(res.status).toBe(403);
    expect(await siteCount()).toBe(before);
  });
});

describe("the site page", () => {
  test("a viewer sees the site and no actions, and every change is refused", async () => {
    const id = await createViaForm({ domain: "readonly.example" });
    const html = await page(viewer, `/sites/${id}`);
    expect(html).toContain("<h1>readonly.example</h1>");
    for (const action of ["/restart", "/enabled", "/delete", "/env", "/edit"]) {
      expect(html).not.toContain(`action="/sites/${id}${action}"`);
      expect((await post(viewer, `/sites/${id}${action}`, { confirm: "yes" })).status).toBe(403);
    }
    expect((await apiView(id)).enabled).toBe(true);
  });

  test("a site-scoped member sees only their site, may open it, and not another", async () => {
    const other = await createViaForm({ domain: "not-yours.example" });
    const list = await page(scoped, "/sites");
    expect(list).toContain(`<a href="/sites/${scopedSite}">scoped.example</a>`);
    // The nav offers Sites to a reader of one site, and still not Hosts.
    expect(list).toContain('href="/sites"');
    expect(list).not.toContain('href="/hosts"');
    expect(list).not.toContain("not-yours.example");
    expect(await page(scoped, `/sites/${scopedSite}`)).toContain("<h1>scoped.example</h1>");
    expect(await page(scoped, `/sites/${other}`, 403)).toContain("sites.read");
    expect((await post(scoped, `/sites/${scopedSite}/restart`)).status).toBe(403);
  });

  test("another tenant's site is a 404 page, for reading and for acting", async () => {
    const id = await createViaForm({ domain: "private.example" });
    for (const path of [`/sites/${id}`, `/sites/${id}/status`]) {
      expect(await page(outsider, path, 404)).toContain("Site not found");
    }
    for (const action of ["/restart", "/enabled", "/env", "/edit"]) {
      expect((await post(outsider, `/sites/${id}${action}`, { enabled: "false" })).status)
        .toBe(404);
    }
    const del = await post(outsider, `/sites/${id}/delete`, { confirm: "yes", purge: "true" });
    expect(del.status).toBe(404);
    expect(await page(admin, `/sites/nope`, 404)).toContain("Site not found");
    expect((await apiView(id)).enabled).toBe(true);
  });

  test("the edit form changes names and settings; bad input keeps the values typed", async () => {
    const id = await createViaForm({ domain: "edit.example" });
    const res = await post(admin, `/sites/${id}/edit`, {
      domain: "edited.example",
      aliases: "www.edited.example",
      runtime: "frankenphp",
      docroot: "web",
    });
    expect(res.headers.get("location")).toBe(`/sites/${id}?notice=saved`);
    expect(await apiView(id)).toMatchObject({
      domain: "edited.example",
      aliases: ["www.edited.example"],
      runtime: "frankenphp",
      docroot: "web",
    });
    const bad = await post(admin, `/sites/${id}/edit`, {
      domain: "edited.example",
      aliases: "edited.example",
      runtime: "php-cli",
      docroot: "web/../..",
    });
    expect(bad.status).toBe(400);
    const html = await bad.text();
    expect(html).toContain("Aliases repeats the domain");
    expect(html).toContain("Document root must be a relative path");
    expect(html).toContain('value="web/../.."');
    expect((await apiView(id)).docroot).toBe("web");
  });

  test("stopping and starting; a stopped site offers no restart and refuses one", async () => {
    const id = await createViaForm({ domain: "toggle.example" });
    const restart = await post(admin, `/sites/${id}/restart`);
    expect(restart.headers.get("location")).toBe(`/sites/${id}?notice=restarted`);
    const [queued] = await db().select().from(agentCommands)
      .where(and(eq(agentCommands.siteId, id), eq(agentCommands.kind, "site.restart")));
    expect(queued).toBeDefined();
    const stop = await post(admin, `/sites/${id}/enabled`, { enabled: "false" });
    expect(stop.headers.get("location")).toBe(`/sites/${id}?notice=stopped`);
    expect((await apiView(id)).enabled).toBe(false);
    const html = await page(admin, `/sites/${id}?notice=stopped`);
    expect(html).toContain("Site stopped.");
    expect(html).toContain("Start site");
    expect(html).not.toContain(`action="/sites/${id}/restart"`);
    const refused = await post(admin, `/sites/${id}/restart`);
    expect(refused.status).toBe(409);
    expect(await refused.text()).toContain("it is stopped");
    expect((await post(admin, `/sites/${id}/enabled`, { enabled: "maybe" })).status).toBe(400);
    await post(admin, `/sites/${id}/enabled`, { enabled: "true" });
    expect((await apiView(id)).enabled).toBe(true);
  });
});

describe("environment variables", () => {
  test("are stored, listed by name only, and their values appear on no page or log", async () => {
    const id = await createViaForm({ domain: "env.example" });
    const res = await post(admin, `/sites/${id}/env`, {
      env: `# comment\r\nAPP_KEY=${SECRET}\r\n\r\nDSN=pgsql://u:${SECRET}@db/x?a=b\r\n`,
    });
    expect(res.headers.get("location")).toBe(`/sites/${id}?notice=env`);
    expect((await apiView(id)).envNames).toEqual(["APP_KEY", "DSN"]);
    const desired = await desiredStateFor(t.deps, hostId);
    expect(desired.sites.find((s) => s.id === id)?.env).toEqual({
      APP_KEY: SECRET,
      DSN: `pgsql://u:${SECRET}@db/x?a=b`,
    });
    // A refused form comes back empty: neither the good line nor the bad one is echoed.
    const refused = await post(admin, `/sites/${id}/env`, {
      env: `APP_KEY=${SECRET}\nbad name=${SECRET}`,
    });
    expect(refused.status).toBe(400);
    const pages = [
      await refused.text(),
      await page(admin, `/sites/${id}?notice=env`),
      await page(viewer, `/sites/${id}`),
      await page(admin, "/sites"),
      await page(admin, `/sites/${id}/status`),
    ];
    expect(pages[0]).toContain("is not a valid variable name");
    expect(pages[1]).toContain("<code>APP_KEY</code>");
    expect(pages[1]).toContain("••••");
    for (const html of pages) expect(html).not.toContain(SECRET);
    expect(t.logText()).not.toContain(SECRET);
    expect((await apiView(id)).envNames).toEqual(["APP_KEY", "DSN"]);
  });

  test("hostile lines are refused by line number or name, and nothing changes", async () => {
    const id = await createViaForm({ domain: "env-hostile.example" });
    await post(admin, `/sites/${id}/env`, { env: "KEEP=1" });
    const cases: [string, string][] = [
      [`${SECRET}`, "line 1 is not of the form NAME=value"],
      [`=${SECRET}`, "line 1 is not of the form NAME=value"],
      [`A=1\nA=${SECRET}`, "line 2 sets a variable an earlier line set"],
      [`__proto__=${SECRET}`, "&quot;__proto__&quot; is not a valid variable name"],
      [`LD_PRELOAD\n=x`, "line 1 is not of the form NAME=value"],
      [`A=${"x".repeat(40_000)}`, "is larger than 32 KiB"],
      [`A=a\u0000b`, "must not contain a NUL character"],
    ];
    for (const [env, message] of cases) {
      const res = await post(admin, `/sites/${id}/env`, { env });
      expect(res.status).toBe(400);
      const html = await res.text();
      expect(html).toContain(message);
      expect(html).not.toContain(SECRET);
    }
    expect((await apiView(id)).envNames).toEqual(["KEEP"]);
  });

  test("a blank submit is refused unless “remove all” is ticked, which clears them", async () => {
    const id = await createViaForm({ domain: "env-clear.example" });
    await post(admin, `/sites/${id}/env`, { env: "A=1\nB=2" });
    expect((await post(admin, `/sites/${id}/env`, { env: "  \n" })).status).toBe(400);
    expect((await post(admin, `/sites/${id}/env`, { env: "C=3", clear: "yes" })).status).toBe(400);
    expect((await apiView(id)).envNames).toEqual(["A", "B"]);
    const cleared = await post(admin, `/sites/${id}/env`, { env: "", clear: "yes" });
    expect(cleared.status).toBe(303);
    expect((await apiView(id)).envNames).toEqual([]);
  });
});

describe("deleting a site", () => {
  const removeCommands = (siteId: string) =>
    db().select().from(agentCommands)
      .where(and(eq(agentCommands.siteId, siteId), eq(agentCommands.kind, "site.remove")));

  test("asks first, offering trash or purge; purge sends site.remove with purge", async () => {
    const id = await createViaForm({ domain: "purge-me.example" });
    const ask = await post(admin, `/sites/${id}/delete`);
    expect(ask.status).toBe(200);
    const html = await ask.text();
    expect(html).toContain("Delete purge-me.example?");
    expect(html).toContain('<input type="hidden" name="confirm" value="yes"/>');
    expect(html).toContain('<input type="radio" name="purge" value="false" checked=""/>');
    expect(html).toContain("Move them to the trash");
    expect(await removeCommands(id)).toEqual([]);
    expect((await apiView(id)).domain).toBe("purge-me.example");

    const done = await post(admin, `/sites/${id}/delete`, { confirm: "yes", purge: "true" });
    expect(done.headers.get("location")).toBe("/sites?notice=purged");
    expect((await removeCommands(id)).map((c) => c.payload)).toEqual([{ purge: true }]);
    const list = await page(admin, "/sites?notice=purged");
    expect(list).toContain("Site deleted.");
    expect(list).not.toContain("purge-me.example");
    expect(await page(admin, `/sites/${id}`, 404)).toContain("Site not found");
  });

  test("the default keeps the files in the trash; a forged purge value deletes nothing", async () => {
    const id = await createViaForm({ domain: "trash-me.example" });
    const forged = await post(admin, `/sites/${id}/delete`, { confirm: "yes", purge: "yes!" });
    expect(forged.status).toBe(400);
    expect(await removeCommands(id)).toEqual([]);
    const done = await post(admin, `/sites/${id}/delete`, { confirm: "yes", purge: "false" });
    expect(done.headers.get("location")).toBe("/sites?notice=deleted");
    expect((await removeCommands(id)).map((c) => c.payload)).toEqual([{ purge: false }]);
  });
});
