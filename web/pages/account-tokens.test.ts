import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { apiTokens } from "../../db/schema.ts";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { bearer } from "../../scripts/testing/auth.ts";
import { addTestMember, setupAcme } from "../../scripts/testing/members.ts";
import { formPost, pageGet, panelSignIn } from "../../scripts/testing/panel.ts";

let t: TestApp;
let root: string;
let viewer: string;
const SECRET = /cdt_[a-z2-7]{56}/g;
const SCRIPT = "<script>alert(1)</script>";

const signIn = (email: string) => panelSignIn(t, email);

beforeAll(async () => {
  t = await createTestApp();
  const { acme } = await setupAcme(t);
  await addTestMember(t, { email: "viewer@acme.test", tenantId: acme, roleIds: ["role_viewer"] });
  root = await signIn("root@example.com");
  viewer = await signIn("viewer@acme.test");
});
afterAll(() => t.close());

const page = (cookie: string, path = "/account/tokens") => pageGet(t, cookie, path);
const post = (cookie: string, path: string, fields: [string, string][]) =>
  formPost(t, cookie, path, fields);

const createForm = (name: string, permissions: string[], extra: [string, string][] = []) =>
  [["name", name], ...permissions.map((p): [string, string] => ["permissions", p]), [
    "expiresInDays",
    "30",
  ], ...extra] as [string, string][];

describe("creating a token in the panel", () => {
  test("shows the secret once, read-only; the list shows the token afterwards without it", async () => {
    const res = await post(
      root,
      "/account/tokens",
      createForm("deploy bot", ["audit.read", "sites.read"]),
    );
    expect(res.status).toBe(200);
    const html = await res.text();
    const secrets = html.match(SECRET) ?? [];
    expect(secrets.length).toBe(1);
    const secret = secrets[0] ?? "";
    expect(html).toMatch(
      new RegExp(`<input id="new-token-secret" type="text" value="${secret}" readonly`),
    );
    expect(html).toContain("shown only this once");

    const api = await t.app.request("/api/v1/audit", { headers: bearer(secret) });
    expect(api.status).toBe(200);

    const later = await (await page(root)).text();
    expect(later).toContain("deploy bot");
    expect(later).toContain("audit.read, sites.read");
    expect(later).not.toMatch(SECRET);
    expect(later).not.toContain(secret.slice(28));
  });

  test("offers only the permissions the user holds in the active tenant", async () => {
    const html = await (await page(viewer)).text();
    expect(html).toContain('value="sites.read"');
    expect(html).not.toContain('value="audit.read"');
    expect(html).not.toContain('value="users.manage"');
  });

  test("a hand-made post for a permission the user lacks is refused; input is kept", async () => {
    const res = await post(
      viewer,
      "/account/tokens",
      createForm("sneaky", ["sites.read", "users.manage"]),
    );
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain("users.manage");
    expect(html).toContain('value="sneaky"');
    expect(html).not.toMatch(SECRET);
    const rows = await t.deps.database.db.select().from(apiTokens).where(
      eq(apiTokens.name, "sneaky"),
    );
    expect(rows).toEqual([]);
  });

  test("problems come back beside their fields with what was typed", async () => {
    const res = await post(root, "/account/tokens", [
      ["name", ""],
      ["expiresInDays", "30"],
      ["ipAllowlist", "10.0.0.0/8\n10.0.0.1/8"],
    ]);
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain("Name is required");
    expect(html).toContain("Permissions must name at least one permission");
    expect(html).toContain("IP allowlist &quot;10.0.0.1/8&quot; has host bits set");
    expect(html).toContain("10.0.0.0/8\n10.0.0.1/8</textarea>");
  });

  test("a name with markup is shown as text", async () => {
    const res = await post(root, "/account/tokens", createForm(SCRIPT, ["audit.read"]));
    expect(res.status).toBe(200);
    const html = await (await page(root)).text();
    expect(html).not.toContain(SCRIPT);
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
  });

  test("the allowlist is stored one canonical entry per line", async () => {
    await post(
      root,
      "/account/tokens",
      createForm("pinned", ["audit.read"], [[
        "ipAllowlist",
        " 2001:DB8::/32 \r\n\r\n127.0.0.1\r\n",
      ]]),
    );
    const [row] = await t.deps.database.db.select().from(apiTokens).where(
      eq(apiTokens.name, "pinned"),
    );
    expect(row?.ipAllowlist).toEqual(["2001:db8::/32", "127.0.0.1"]);
  });
});

describe("revoking in the panel", () => {
  test("revoke stops the token; someone else's token is left alone", async () => {
    const created =
      await (await post(root, "/account/tokens", createForm("short-lived", ["audit.read"]))).text();
    const secret = created.match(SECRET)?.[0] ?? "";
    const [row] = await t.deps.database.db.select().from(apiTokens).where(
      eq(apiTokens.name, "short-lived"),
    );
    const id = row?.id ?? "";

    const foreign = await post(viewer, `/account/tokens/${id}/revoke`, []);
    expect(foreign.headers.get("location")).toBe("/account/tokens?notice=missing");
    expect((await t.app.request("/api/v1/audit", { headers: bearer(secret) })).status).toBe(200);

    const res = await post(root, `/account/tokens/${id}/revoke`, []);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/account/tokens?notice=revoked");
    expect((await t.app.request("/api/v1/audit", { headers: bearer(secret) })).status).toBe(401);
    const html = await (await page(root, "/account/tokens?notice=revoked")).text();
    expect(html).toContain("Token revoked");
    expect(html).toContain("Revoked</span>");
  });

  test("an API token does not open the panel's pages", async () => {
    const created =
      await (await post(root, "/account/tokens", createForm("api only", ["audit.read"]))).text();
    const secret = created.match(SECRET)?.[0] ?? "";
    const res = await t.app.request("/account/tokens", { headers: bearer(secret) });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toStartWith("/login");
    const mint = await t.app.request("/account/tokens", {
      method: "POST",
      headers: { ...bearer(secret), "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(createForm("minted", ["audit.read"])).toString(),
    });
    expect(mint.status).toBe(303);
    expect(await t.deps.database.db.select().from(apiTokens).where(eq(apiTokens.name, "minted")))
      .toEqual([]);
  });

  test("the account page links to the tokens page", async () => {
    const html = await (await page(root, "/account")).text();
    expect(html).toContain('<a href="/account/tokens">API tokens</a>');
  });
});
