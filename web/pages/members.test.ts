import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { and, eq } from "drizzle-orm";
import { memberships, userRoles } from "../../db/schema.ts";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { callApi } from "../../scripts/testing/api.ts";
import { bearer, postJson } from "../../scripts/testing/auth.ts";
import { addTestMember, addTestTenant, setupAcme } from "../../scripts/testing/members.ts";
import { formPost, pageText, panelSignIn } from "../../scripts/testing/panel.ts";
import { insertTestSite } from "../../scripts/testing/sites.ts";

let t: TestApp;
let acme: string;
let admin: string;
let developer: string;
let reader: string;
let devId: string;
let ownerId: string;
let outsiderId: string;

const signIn = (email: string) => panelSignIn(t, email);

const page = (cookie: string, path: string, status?: number) => pageText(t, cookie, path, status);
const post = (cookie: string, path: string, fields: [string, string][] = [], origin?: string) =>
  formPost(t, cookie, path, fields, origin);

async function heldBy(userId: string, tenantId = acme): Promise<string[]> {
  const rows = await t.deps.database.db.select().from(userRoles)
    .where(and(eq(userRoles.userId, userId), eq(userRoles.tenantId, tenantId)));
  return rows.map((r) => r.siteId ? `${r.roleId}@${r.siteId}` : r.roleId).sort();
}

beforeAll(async () => {
  t = await createTestApp({ env: { CADDIS_RATE_LIMITS: "api=off;auth=off;pages=off" } });
  const setup = await setupAcme(t);
  acme = setup.acme;
  await insertTestSite(t.deps.database.db, acme, { id: "site_blog" });
  const readers = await postJson(t, "/api/v1/roles", {
    name: "Member readers",
    permissions: ["users.read"],
  }, bearer(setup.rootToken));
  const readerRole = ((await readers.json()) as { id: string }).id;
  const member = (email: string, tenantId: string, roleIds: string[]) =>
    addTestMember(t, { email, tenantId, roleIds });
  await member("admin@example.com", acme, ["role_admin"]);
  devId = (await member("dev@example.com", acme, ["role_developer"])).userId;
  await member("reader@example.com", acme, [readerRole]);
  ownerId = (await member("owner@example.com", acme, ["role_owner"])).userId;
  outsiderId = (await member("x@globex.example", await addTestTenant(t, "Globex"), [])).userId;
  // A site-scoped role, which the page shows but its checkboxes leave alone.
  await callApi(t, setup.rootToken, "PUT", `/api/v1/members/${devId}/roles`, {
    roles: [{ roleId: "role_developer" }, { roleId: "role_admin", siteId: "site_blog" }],
  });
  [admin, developer, reader] = await Promise.all([
    signIn("admin@example.com"),
    signIn("dev@example.com"),
    signIn("reader@example.com"),
  ]);
}, 30_000);
afterAll(() => t.close());

describe("who sees the members page", () => {
  test("an anonymous visitor is sent to sign in; a developer gets a 403 page", async () => {
    const res = await t.app.request("/members");
    expect(res.headers.get("location")).toBe("/login?next=%2Fmembers");
    expect(await page(developer, "/members", 403)).toContain("users.read");
    const refused = await post(developer, `/members/${ownerId}/remove`, [["confirm", "yes"]]);
    expect(refused.status).toBe(403);
  });

  test("a reader sees members, 2FA and roles with site scope, but no forms", async () => {
    const html = await page(reader, "/members");
    expect(html).toContain("owner@example.com");
    expect(html).toContain('<span class="badge badge-ok">admin on site_blog</span>');
    expect(html).toContain('<span class="badge badge-warn">off</span>');
    expect(html).not.toContain('action="/members/');
    expect(html).not.toContain("Invite someone");
    expect(html).not.toContain("x@globex.example");
  });

  test("an admin gets role checkboxes, remove buttons and the invite link", async () => {
    const html = await page(admin, "/members");
    expect(html).toContain('<a href="/invitations">Invite someone</a>');
    expect(html).toContain(`<form method="post" action="/members/${devId}/roles">`);
    expect(html).toMatch(/name="roleId" value="role_developer" checked/);
    expect(html).toContain(`action="/members/${devId}/remove"`);
    expect(html).toContain('aria-label="Remove dev@example.com from this organisation"');
  });
});

describe("changing roles from the page", () => {
  test("saves the checked roles and keeps site-scoped ones", async () => {
    const res = await post(admin, `/members/${devId}/roles`, [
      ["roleId", "role_developer"],
      ["roleId", "role_auditor"],
    ]);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/members?notice=roles-saved");
    expect(await heldBy(devId)).toEqual([
      "role_admin@site_blog",
      "role_auditor",
      "role_developer",
    ]);
    expect(await page(admin, "/members?notice=roles-saved")).toContain("Roles saved.");
  });

  test("an escalation comes back as a message with the boxes as they were ticked", async () => {
    const res = await post(admin, `/members/${devId}/roles`, [
      ["roleId", "role_owner"],
      ["roleId", "role_viewer"],
    ]);
    expect(res.status).toBe(403);
    const html = await res.text();
    expect(html).toContain('class="flash flash-error" role="alert"');
    expect(html).toContain("tenants.update");
    const devForm = html.slice(html.indexOf(`action="/members/${devId}/roles"`));
    const devBoxes = devForm.slice(0, devForm.indexOf("</form>"));
    expect(devBoxes).toMatch(/value="role_owner" checked/);
    expect(devBoxes).toMatch(/value="role_viewer" checked/);
    expect(devBoxes).not.toMatch(/value="role_developer" checked/);
    expect(await heldBy(devId)).toContain("role_developer");
  });

  test("an admin cannot change an owner's roles", async () => {
    const res = await post(admin, `/members/${ownerId}/roles`, [["roleId", "role_viewer"]]);
    expect(res.status).toBe(403);
    expect(await heldBy(ownerId)).toEqual(["role_owner"]);
  });

  test("another tenant's member is refused like a missing one", async () => {
    const foreign = await post(admin, `/members/${outsiderId}/roles`, [["roleId", "role_viewer"]]);
    const missing = await post(admin, "/members/usr_nobody/roles", [["roleId", "role_viewer"]]);
    expect(foreign.status).toBe(404);
    expect(await foreign.text()).toBe(await missing.text());
  });

  test("the last owner cannot step down, and is told why", async () => {
    const solo = await addTestTenant(t, "Solo");
    const only = await addTestMember(t, {
      email: "only@solo.example",
      tenantId: solo,
      roleIds: ["role_owner"],
    });
    const cookie = await signIn("only@solo.example");
    const res = await post(cookie, `/members/${only.userId}/roles`, [["roleId", "role_admin"]]);
    expect(res.status).toBe(409);
    expect(await res.text()).toContain("must keep at least one owner");
    expect(await heldBy(only.userId, solo)).toEqual(["role_owner"]);
  });

  test("a post from another origin is refused", async () => {
    const res = await post(admin, `/members/${devId}/roles`, [], "https://evil.example");
    expect(res.status).toBe(403);
    expect(await heldBy(devId)).toContain("role_developer");
  });
});

describe("removing a member from the page", () => {
  test("asks first, then removes on the confirming post", async () => {
    const leaver = await addTestMember(t, {
      email: "leaver@example.com",
      tenantId: acme,
      roleIds: ["role_viewer"],
    });
    const ask = await post(admin, `/members/${leaver.userId}/remove`);
    expect(ask.status).toBe(200);
    const html = await ask.text();
    expect(html).toContain("<h1>Remove leaver@example.com?</h1>");
    expect(html).toContain('<input type="hidden" name="confirm" value="yes"/>');
    expect(await heldBy(leaver.userId)).toEqual(["role_viewer"]);

    const res = await post(admin, `/members/${leaver.userId}/remove`, [["confirm", "yes"]]);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/members?notice=removed");
    const left = await t.deps.database.db.select().from(memberships)
      .where(eq(memberships.userId, leaver.userId));
    expect(left).toEqual([]);
    expect(await page(admin, "/members?notice=removed")).not.toContain("leaver@example.com");
  });

  test("removing an owner is refused for an admin", async () => {
    const res = await post(admin, `/members/${ownerId}/remove`, [["confirm", "yes"]]);
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("holds permissions you do not");
    expect(await heldBy(ownerId)).toEqual(["role_owner"]);
  });
});
