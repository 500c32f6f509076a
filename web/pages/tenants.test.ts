import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { TENANT_COOKIE } from "../../api/auth/cookies.ts";
import { addMembership } from "../../api/services/membership.ts";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { addTestMember, addTestTenant, setupAcme } from "../../scripts/testing/members.ts";
import { formPost, pageText, panelSignIn } from "../../scripts/testing/panel.ts";

let t: TestApp;
let acme: string;
let beta: string;
let owned: string;
/** Cookie headers of signed-in browsers, by who they are. */
const as: Record<string, string> = {};

const signIn = (email: string) => panelSignIn(t, email);

const post = (cookie: string, path: string, fields: Record<string, string> = {}) =>
  formPost(t, cookie, path, fields);
const page = (cookie: string, path = "/tenants") => pageText(t, cookie, path);

/** The header's navigation links, by label. */
function navLabels(html: string): string[] {
  const nav = html.match(/<nav aria-label="Main">(.*?)<\/nav>/s)?.[1] ?? "";
  return [...nav.matchAll(/<a href="[^"]*"[^>]*>([^<]*)<\/a>/g)].map((m) => m[1] ?? "");
}

async function require2fa(tenantId: string): Promise<boolean> {
  const [row] = await t.database.rawSql(
    `select require_2fa as "on" from tenants where id = '${tenantId}'`,
  );
  return row?.on === true;
}

beforeAll(async () => {
  t = await createTestApp();
  ({ acme } = await setupAcme(t));
  beta = await addTestTenant(t, "Beta");
  owned = await addTestTenant(t, "Owned");
  await addTestMember(t, { email: "viewer@example.com", tenantId: acme, roleIds: ["role_viewer"] });
  await addTestMember(t, { email: "admin@example.com", tenantId: acme, roleIds: ["role_admin"] });
  await addTestMember(t, {
    email: "auditor@example.com",
    tenantId: acme,
    roleIds: ["role_auditor"],
  });
  await addTestMember(t, { email: "owner@example.com", tenantId: owned, roleIds: ["role_owner"] });
  const { userId } = await addTestMember(t, {
    email: "two@example.com",
    tenantId: acme,
    roleIds: ["role_viewer"],
  });
  await t.deps.database.db.transaction((tx) =>
    addMembership(tx, { tenantId: beta, userId, roleIds: ["role_owner"] })
  );
  for (const who of ["root", "viewer", "admin", "auditor", "owner", "two"]) {
    as[who] = await signIn(`${who}@example.com`);
  }
});
afterAll(() => t.close());

describe("navigation", () => {
  test("offers Sites, Hosts, Members, Roles and Audit only to holders of their permissions", async () => {
    expect(navLabels(await page(as.viewer!))).toEqual([
      "Dashboard",
      "Sites",
      "Hosts",
      "Tenants",
      "Account",
    ]);
    expect(navLabels(await page(as.admin!))).toEqual([
      "Dashboard",
      "Sites",
      "Hosts",
      "Members",
      "Roles",
      "Audit",
      "Tenants",
      "Account",
    ]);
    expect(navLabels(await page(as.auditor!))).toEqual([
      "Dashboard",
      "Audit",
      "Tenants",
      "Account",
    ]);
    expect(navLabels(await page(as.root!))).toContain("Members");
  });

  test("follows the active tenant: a viewer in one tenant may own another", async () => {
    expect(navLabels(await page(as.two!))).not.toContain("Members");
    const inBeta = await page(`${as.two}; ${TENANT_COOKIE}=${beta}`);
    expect(navLabels(inBeta)).toContain("Members");
  });

  test("marks the tenants section current", async () => {
    expect(await page(as.viewer!)).toContain('<a href="/tenants" aria-current="page">Tenants</a>');
  });
});

describe("tenant switcher", () => {
  test("a user of one tenant sees its name and no switcher", async () => {
    const html = await page(as.viewer!);
    expect(html).toContain('<span class="tenant-switch tenant-name">Acme</span>');
    expect(html).not.toContain('action="/tenants/switch"');
  });

  test("a user of two tenants gets a menu of exactly those, the active one selected", async () => {
    const html = await page(as.two!, "/status");
    const form = html.match(/<form class="tenant-switch".*?<\/form>/s)?.[0] ?? "";
    expect(form).toContain(`<option value="${acme}" selected="">Acme</option>`);
    expect(form).toContain(`<option value="${beta}">Beta</option>`);
    expect(form).not.toContain(owned);
    expect(form).toContain('<input type="hidden" name="next" value="/status"/>');
  });

  test("switching sets a host-only, strict cookie and returns to the page", async () => {
    const res = await post(as.two!, "/tenants/switch", { tenantId: beta, next: "/status" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/status");
    const [cookie] = res.headers.getSetCookie();
    expect(cookie).toStartWith(`${TENANT_COOKIE}=${beta};`);
    const attributes = (cookie ?? "").toLowerCase();
    for (const a of ["httponly", "secure", "samesite=strict", "path=/"]) {
      expect(attributes).toContain(a);
    }
    expect(attributes).not.toContain("domain=");
  });

  test("refuses another tenant exactly like a missing one, and sets nothing", async () => {
    const foreign = await post(as.two!, "/tenants/switch", { tenantId: owned });
    const missing = await post(as.two!, "/tenants/switch", { tenantId: "ten_missing00000" });
    expect(foreign.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(foreign.headers.getSetCookie()).toEqual([]);
    expect(await foreign.text()).toBe(await missing.text());
  });

  test("a superuser may switch to any tenant", async () => {
    const res = await post(as.root!, "/tenants/switch", { tenantId: owned });
    expect(res.status).toBe(303);
    const html = await page(`${as.root}; ${TENANT_COOKIE}=${owned}`);
    expect(html).toMatch(/Owned <span class="badge badge-ok">Active<\/span>/);
  });

  test("an off-site next lands on / instead", async () => {
    for (const next of ["//evil.example", "https://evil.example/", "/\\evil.example", "/\t/x"]) {
      const res = await post(as.two!, "/tenants/switch", { tenantId: beta, next });
      expect(res.headers.get("location")).toBe("/");
    }
  });

  test("signing out forgets the choice", async () => {
    const signedOut = await post(
      `${await signIn("two@example.com")}; ${TENANT_COOKIE}=${beta}`,
      "/api/v1/auth/refresh/logout",
    );
    expect(signedOut.headers.getSetCookie().some((c) => c.startsWith(`${TENANT_COOKIE}=;`)))
      .toBe(true);
  });
});

describe("tenants page", () => {
  test("lists only the member's own tenants; a superuser sees them all", async () => {
    const two = await page(as.two!);
    expect(two).toContain("Beta");
    expect(two).not.toContain("Owned");
    expect(two).toMatch(/Acme <span class="badge badge-ok">Active<\/span>/);
    expect(two).toContain('aria-label="Switch to Beta"');
    expect(two).not.toContain("New tenant");
    const root = await page(as.root!);
    for (const name of ["Acme", "Beta", "Owned"]) expect(root).toContain(name);
  });

  test("offers the 2FA toggle only where the user holds tenants.update", async () => {
    const two = await page(as.two!);
    expect(two).toContain(`action="/tenants/${beta}/two-factor"`);
    expect(two).not.toContain(`action="/tenants/${acme}/two-factor"`);
    expect(await page(as.admin!)).not.toContain("/two-factor");
  });

  test("a superuser creates a tenant, owns it, and the creation is audited", async () => {
    const res = await post(as.root!, "/tenants", { name: "Gamma" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/tenants?notice=created");
    const html = await page(as.root!, "/tenants?notice=created");
    expect(html).toContain("Tenant created. You are its owner.");
    expect(html).toContain("Gamma");
    const [row] = await t.database.rawSql(
      "select count(*)::int as n from audit_log where action = 'tenants.create' and outcome = 'success'",
    );
    expect(row?.n).toBe(1);
  });

  test("a bad name is shown beside the field, markup escaped", async () => {
    const empty = await post(as.root!, "/tenants", { name: "  " });
    expect(empty.status).toBe(400);
    expect(await empty.text()).toContain("Name is required");
    const long = await post(as.root!, "/tenants", { name: `<script>${"x".repeat(120)}` });
    expect(long.status).toBe(400);
    const html = await long.text();
    expect(html).toContain("Name is too long");
    expect(html).toContain("&lt;script&gt;");
    expect(html).not.toContain("<script>x");
  });

  test("a member posting to create a tenant gets a 403 page and nothing is created", async () => {
    const before = await t.database.rawSql("select count(*)::int as n from tenants");
    const res = await post(as.admin!, "/tenants", { name: "Sneaky" });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("This needs a superuser account");
    expect(await t.database.rawSql("select count(*)::int as n from tenants")).toEqual(before);
  });
});

describe("two-factor requirement", () => {
  test("members without tenants.update get a 403 page and the setting stays", async () => {
    for (const who of ["viewer", "admin"]) {
      const res = await post(as[who]!, `/tenants/${acme}/two-factor`, { require2fa: "true" });
      expect(res.status).toBe(403);
      expect(await res.text()).toContain(
        "You do not have the &quot;tenants.update&quot; permission here",
      );
    }
    expect(await require2fa(acme)).toBe(false);
    // tenants.update is sensitive: each denial is on the audit log, not only in the request log.
    const [row] = await t.database.rawSql(
      "select count(*)::int as n from audit_log where action = 'tenants.update' and outcome = 'denied'",
    );
    expect(row?.n).toBe(2);
  });

  test("another tenant's id answers exactly like a missing one", async () => {
    const foreign = await post(as.two!, `/tenants/${owned}/two-factor`, { require2fa: "true" });
    const missing = await post(as.two!, "/tenants/ten_missing00000/two-factor", {
      require2fa: "true",
    });
    expect(foreign.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(await foreign.text()).toBe(await missing.text());
    expect(await require2fa(owned)).toBe(false);
  });

  test("a value other than true or false is refused", async () => {
    const res = await post(as.owner!, `/tenants/${owned}/two-factor`, { require2fa: "yes" });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("Two-factor requirement must be on or off");
    expect(await require2fa(owned)).toBe(false);
  });

  test("a holder of tenants.update turns it on, audited in that tenant", async () => {
    const res = await post(as.owner!, `/tenants/${owned}/two-factor`, { require2fa: "true" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/tenants?notice=2fa-required");
    expect(await require2fa(owned)).toBe(true);
    const [row] = await t.database.rawSql(
      "select tenant_id, details from audit_log where action = 'tenants.update' and outcome = 'success'",
    );
    expect(row?.tenant_id).toBe(owned);
    expect(row?.details).toEqual({ require2fa: true });
  });

  test("a superuser turns it off again in any tenant", async () => {
    const res = await post(as.root!, `/tenants/${owned}/two-factor`, { require2fa: "false" });
    expect(res.status).toBe(303);
    expect(await require2fa(owned)).toBe(false);
  });
});
