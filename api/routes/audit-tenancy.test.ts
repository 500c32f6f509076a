import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { withoutRequestId } from "../../scripts/testing/api.ts";
import { bearer, postJson } from "../../scripts/testing/auth.ts";
import { addTestMember, addTestTenant, setupAcme } from "../../scripts/testing/members.ts";
import { TENANT_HEADER } from "../auth/active-tenant.ts";
import { recordAuditNow } from "../services/audit.ts";

// Audit rows are tenant-scoped for everyone but superusers: an auditor or admin of one tenant
// must never read, export or even count another tenant's history.
let t: TestApp;
let rootToken: string;
let acme: string;
let globex: string;
let auditor: string;
let viewer: string;
let globexAdmin: string;

beforeAll(async () => {
  t = await createTestApp();
  ({ rootToken, acme } = await setupAcme(t));
  globex = await addTestTenant(t, "Globex");
  auditor = (await addTestMember(t, {
    email: "auditor@example.com",
    tenantId: acme,
    roleIds: ["role_auditor"],
  })).accessToken;
  viewer = (await addTestMember(t, {
    email: "viewer@example.com",
    tenantId: acme,
    roleIds: ["role_viewer"],
  })).accessToken;
  globexAdmin = (await addTestMember(t, {
    email: "admin@globex.example",
    tenantId: globex,
    roleIds: ["role_admin"],
  })).accessToken;
  const db = t.deps.database.db;
  await recordAuditNow(db, { actor: { kind: "system" }, tenantId: acme }, {
    action: "sites.create",
    resourceId: "site_acme",
    outcome: "success",
  });
  await recordAuditNow(db, { actor: { kind: "system" }, tenantId: globex }, {
    action: "sites.create",
    resourceId: "site_globex",
    outcome: "success",
  });
});
afterAll(() => t.close());

type Entry = { tenantId: string | null; resourceId: string | null; action: string };
const entriesFor = async (token: string, query = "", headers: Record<string, string> = {}) => {
  const res = await t.app.request(`/api/v1/audit${query}`, {
    headers: { ...bearer(token), ...headers },
  });
  return { status: res.status, body: (await res.json()) as { entries?: Entry[] } };
};

describe("tenant-scoped audit reads", () => {
  test("an auditor sees only their own tenant's rows", async () => {
    const { status, body } = await entriesFor(auditor, "?limit=200");
    expect(status).toBe(200);
    const entries = body.entries ?? [];
    expect(entries.some((e) => e.resourceId === "site_acme")).toBe(true);
    expect(entries.every((e) => e.tenantId === acme)).toBe(true);
  });

  test("an auditor cannot widen the scope with a tenant filter", async () => {
    expect((await entriesFor(auditor, `?tenantId=${globex}`)).status).toBe(403);
  });

  test("the export is scoped the same way", async () => {
    const res = await t.app.request("/api/v1/audit/export?format=json", {
      headers: bearer(auditor),
    });
    expect(res.status).toBe(200);
    const rows = (await res.json()) as Entry[];
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((e) => e.tenantId === acme)).toBe(true);
  });

  test("a superuser sees every tenant and may filter by one", async () => {
    const all = (await entriesFor(rootToken, "?limit=200")).body.entries ?? [];
    expect(new Set(all.map((e) => e.tenantId))).toContain(globex);
    const filtered = (await entriesFor(rootToken, `?tenantId=${globex}`)).body.entries ?? [];
    expect(filtered.map((e) => e.resourceId)).toEqual(["site_globex"]);
  });

  test("another tenant's admin asking to act in this tenant gets 404, like a missing tenant", async () => {
    const foreign = await entriesFor(globexAdmin, "", { [TENANT_HEADER]: acme });
    const missing = await entriesFor(globexAdmin, "", {
      [TENANT_HEADER]: "ten_aaaaaaaaaaaaaaaaaaaaaaaa",
    });
    expect(foreign.status).toBe(404);
    expect(withoutRequestId(foreign.body)).toEqual(withoutRequestId(missing.body));
    const own = (await entriesFor(globexAdmin, "?limit=200")).body.entries ?? [];
    expect(own.every((e) => e.tenantId === globex)).toBe(true);
  });

  test("a viewer is refused, and the refusal is itself audited", async () => {
    expect((await entriesFor(viewer)).status).toBe(403);
    const denied = (await entriesFor(rootToken, "?action=audit.read&outcome=denied")).body.entries;
    expect(denied?.[0]).toMatchObject({ action: "audit.read", tenantId: acme });
  });

  test("only a superuser may prune, whatever their tenant role", async () => {
    const res = await postJson(t, "/api/v1/audit/prune", { olderThanDays: 30 }, bearer(auditor));
    expect(res.status).toBe(403);
  });
});
