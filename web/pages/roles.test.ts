import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { rolePermissions, roles } from "../../db/schema.ts";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { bearer, postJson } from "../../scripts/testing/auth.ts";
import { addTestMember, addTestTenant, setupAcme } from "../../scripts/testing/members.ts";
import { formPost, pageText, panelSignIn } from "../../scripts/testing/panel.ts";

let t: TestApp;
let root: string;
let acme: string;
let admin: string;
let developer: string;
let reader: string;
let foreignRoleId: string;
const SCRIPT = "<script>alert(1)</script>";
const SQL = "' or 1=1 --";

const signIn = (email: string) => panelSignIn(t, email);

const post = (cookie: string, path: string, fields: [string, string][] = [], origin?: string) =>
  formPost(t, cookie, path, fields, origin);
const page = (cookie: string, path: string, status?: number) => pageText(t, cookie, path, status);

async function roleNamed(name: string) {
  const [row] = await t.deps.database.db.select().from(roles).where(eq(roles.name, name));
  return row;
}

beforeAll(async () => {
  t = await createTestApp({ env: { CADDIS_RATE_LIMITS: "api=off;auth=off;pages=off" } });
  const setup = await setupAcme(t);
  acme = setup.acme;
  const readers = await postJson(t, "/api/v1/roles", {
    name: "Role readers",
    permissions: ["roles.read"],
  }, bearer(setup.rootToken));
  const readerRole = ((await readers.json()) as { id: string }).id;
  const member = (email: string, tenantId: string, roleIds: string[]) =>
    addTestMember(t, { email, tenantId, roleIds });
  await member("admin@example.com", acme, ["role_admin"]);
  await member("dev@example.com", acme, ["role_developer"]);
  await member("reader@example.com", acme, [readerRole]);
  const globex = await addTestTenant(t, "Globex");
  const outsider = await member("owner@globex.example", globex, ["role_owner"]);
  const foreign = await postJson(t, "/api/v1/roles", {
    name: "Globex secret",
    permissions: [],
  }, bearer(outsider.accessToken));
  foreignRoleId = ((await foreign.json()) as { id: string }).id;
  [root, admin, developer, reader] = await Promise.all([
    signIn("root@example.com"),
    signIn("admin@example.com"),
    signIn("dev@example.com"),
    signIn("reader@example.com"),
  ]);
}, 30_000);
afterAll(() => t.close());

describe("who sees the roles page", () => {
  test("an anonymous visitor is sent to sign in", async () => {
    const res = await t.app.request("/roles");
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/login?next=%2Froles");
  });

  test("a developer gets a 403 page naming the missing permission", async () => {
    const html = await page(developer, "/roles", 403);
    expect(html).toContain("roles.read");
    const refused = await post(developer, "/roles", [["name", "Devs"]]);
    expect(refused.status).toBe(403);
    expect(await roleNamed("Devs")).toBeUndefined();
  });

  test("a reader sees every role and its grants, but no form", async () => {
    const html = await page(reader, "/roles");
    for (const name of ["owner", "admin", "developer", "viewer", "auditor", "Role readers"]) {
      expect(html).toContain(`>${name}</a>`);
    }
    expect(html).toContain("<code>tenants.update</code>");
    expect(html).not.toContain('action="/roles"');
  });

  test("an admin gets the create form with permissions grouped by resource", async () => {
    const html = await page(admin, "/roles");
    expect(html).toContain('<form method="post" action="/roles">');
    expect(html).toContain("<legend>sites</legend>");
    expect(html).toContain('name="permissions" value="deployments.create"');
    expect(html).toContain('<option value="role_viewer">viewer</option>');
    expect(html).not.toContain("Globex secret");
  });
});

describe("creating a role from the page", () => {
  test("creates it with every checked permission and its parent", async () => {
    const res = await post(admin, "/roles", [
      ["name", "Shippers"],
      ["description", "Deploy and tail logs"],
      ["parentId", "role_viewer"],
      ["permissions", "deployments.create"],
      ["permissions", "logs.read"],
    ]);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/roles?notice=created");
    const role = await roleNamed("Shippers");
    expect(role?.parentId).toBe("role_viewer");
    const granted = await t.deps.database.db.select().from(rolePermissions)
      .where(eq(rolePermissions.roleId, role?.id ?? ""));
    expect(granted.map((g) => g.permission).sort()).toEqual(["deployments.create", "logs.read"]);
    expect(await page(admin, "/roles?notice=created")).toContain("Role created.");
  });

  test("an escalation is refused with a message, and the form keeps what was typed", async () => {
    const res = await post(admin, "/roles", [
      ["name", "Takeover"],
      ["description", "keep me"],
      ["permissions", "tenants.update"],
    ]);
    expect(res.status).toBe(403);
    const html = await res.text();
    expect(html).toContain("tenants.update");
    expect(html).toContain('value="Takeover"');
    expect(html).toContain('value="keep me"');
    expect(html).toMatch(/value="tenants.update" checked/);
    expect(await roleNamed("Takeover")).toBeUndefined();
  });

  test("a bad name is shown beside the field, escaped", async () => {
    const res = await post(admin, "/roles", [["name", SCRIPT]]);
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain("Name may contain only letters");
    expect(html).not.toContain(SCRIPT);
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
  });

  test("markup and SQL in a description are stored as typed and shown as text", async () => {
    const description = `${SCRIPT} ${SQL}`;
    const res = await post(admin, "/roles", [["name", "Hostile"], ["description", description]]);
    expect(res.status).toBe(303);
    expect((await roleNamed("Hostile"))?.description).toBe(description);
    const html = await page(reader, "/roles");
    expect(html).not.toContain(SCRIPT);
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt; &#39; or 1=1 --");
  });

  test("a post from another origin is refused", async () => {
    const res = await post(admin, "/roles", [["name", "Forged"]], "https://evil.example");
    expect(res.status).toBe(403);
    expect(await roleNamed("Forged")).toBeUndefined();
  });
});

describe("one role's page", () => {
  test("changes a custom role and shows the saved state", async () => {
    await post(admin, "/roles", [["name", "Editable"], ["permissions", "sites.read"]]);
    const id = (await roleNamed("Editable"))?.id ?? "";
    const form = await page(admin, `/roles/${id}`);
    expect(form).toContain(`<form method="post" action="/roles/${id}">`);
    expect(form).toMatch(/value="sites.read" checked/);
    const res = await post(admin, `/roles/${id}`, [
      ["name", "Edited"],
      ["description", ""],
      ["parentId", ""],
      ["permissions", "sites.update"],
    ]);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`/roles/${id}?notice=saved`);
    const html = await page(admin, `/roles/${id}?notice=saved`);
    expect(html).toContain("Role saved.");
    expect(html).toContain("<h1>Role Edited</h1>");
  });

  test("a cycle is reported beside the parent field", async () => {
    await post(admin, "/roles", [["name", "Loop A"]]);
    const a = (await roleNamed("Loop A"))?.id ?? "";
    await post(admin, "/roles", [["name", "Loop B"], ["parentId", a]]);
    const b = (await roleNamed("Loop B"))?.id ?? "";
    const res = await post(admin, `/roles/${a}`, [["name", "Loop A"], ["parentId", b]]);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("Inherits from would make the role inherit from itself");
  });

  test("built-in roles show no form; another tenant's role is a 404 like a missing one", async () => {
    const builtIn = await page(admin, "/roles/role_owner");
    expect(builtIn).toContain("Built-in roles cannot be changed.");
    expect(builtIn).not.toContain('action="/roles/role_owner"');
    const foreign = await page(admin, `/roles/${foreignRoleId}`, 404);
    const missing = await page(admin, "/roles/rol_aaaaaaaaaaaaaaaaaaaaaaaa", 404);
    expect(foreign).not.toContain("Globex");
    expect(foreign).toBe(missing);
    expect((await post(admin, `/roles/${foreignRoleId}/delete`)).status).toBe(404);
  });

  test("deleting a held role is refused with the reason; an unused one goes", async () => {
    const held = await page(admin, "/roles");
    expect(held).toContain("Role readers");
    const readers = (await roleNamed("Role readers"))?.id ?? "";
    const refused = await post(admin, `/roles/${readers}/delete`);
    expect(refused.status).toBe(409);
    expect(await refused.text()).toContain("is held by 1 member");
    await post(admin, "/roles", [["name", "Short lived"]]);
    const id = (await roleNamed("Short lived"))?.id ?? "";
    const res = await post(admin, `/roles/${id}/delete`);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/roles?notice=deleted");
    expect(await roleNamed("Short lived")).toBeUndefined();
    expect(await page(root, "/roles?notice=deleted")).toContain("Role deleted.");
  });
});
