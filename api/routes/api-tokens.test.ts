import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { and, eq } from "drizzle-orm";
import { apiTokens, auditLog, memberships, userRoles, users } from "../../db/schema.ts";
import { createTestApp, serveTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { bearer, postJson, setupSuperuser, TEST_PASSWORD } from "../../scripts/testing/auth.ts";
import { addTestMember, addTestTenant, setupAcme } from "../../scripts/testing/members.ts";
import { TENANT_HEADER } from "../auth/active-tenant.ts";
import { hashToken } from "../auth/tokens.ts";
import type { TokenView } from "../services/api-tokens.ts";

let t: TestApp;
let root: string;
let acme: string;
let globex: string;
let admin: { userId: string; accessToken: string };
let viewer: string;
let globexAdmin: string;

const SECRET_SHAPE = /^cdt_[a-z2-7]{56}$/;

beforeAll(async () => {
  t = await createTestApp();
  ({ rootToken: root, acme } = await setupAcme(t));
  globex = await addTestTenant(t, "Globex");
  admin = await addTestMember(t, {
    email: "admin@acme.test",
    tenantId: acme,
    roleIds: ["role_admin"],
  });
  viewer = (await addTestMember(t, {
    email: "viewer@acme.test",
    tenantId: acme,
    roleIds: ["role_viewer"],
  })).accessToken;
  globexAdmin = (await addTestMember(t, {
    email: "admin@globex.test",
    tenantId: globex,
    roleIds: ["role_admin"],
  })).accessToken;
});
afterAll(() => t.close());

type Created = { token: TokenView; secret: string };

function create(session: string, body: Record<string, unknown>, headers = {}) {
  return postJson(t, "/api/v1/tokens", { name: "ci", expiresInDays: 30, ...body }, {
    ...bearer(session),
    ...headers,
  });
}

async function mint(session: string, permissions: string[], extra = {}): Promise<Created> {
  const res = await create(session, { permissions, ...extra });
  expect(res.status).toBe(201);
  return (await res.json()) as Created;
}

const readAudit = (secret: string, headers = {}) =>
  Promise.resolve(t.app.request("/api/v1/audit", { headers: { ...bearer(secret), ...headers } }));

const send = (method: string, path: string, session: string) =>
  Promise.resolve(t.app.request(path, { method, headers: bearer(session) }));

async function errorOf(res: Response) {
  const { error } = (await res.json()) as { error: { code: string; message: string } };
  return { status: res.status, code: error.code, message: error.message };
}

describe("creating and using a token", () => {
  test("a token holding audit.read reads the audit log; the secret is shown once", async () => {
    const { token, secret } = await mint(root, ["audit.read"]);
    expect(secret).toMatch(SECRET_SHAPE);
    expect(secret.slice(4, 28)).toBe(token.id.slice(4));
    expect(token).toMatchObject({ tenantId: acme, permissions: ["audit.read"], expired: false });
    expect((await readAudit(secret)).status).toBe(200);
  });

  test("a token without audit.read is refused with 403", async () => {
    const { secret } = await mint(root, ["users.read"]);
    expect((await readAudit(secret)).status).toBe(403);
  });

  test("a member's token stops working the moment the member loses the role", async () => {
    const member = await addTestMember(t, {
      email: "temp@acme.test",
      tenantId: acme,
      roleIds: ["role_admin"],
    });
    const { secret } = await mint(member.accessToken, ["audit.read"]);
    expect((await readAudit(secret)).status).toBe(200);
    await t.deps.database.db.delete(userRoles).where(eq(userRoles.userId, member.userId));
    expect((await readAudit(secret)).status).toBe(403);
  });

  test("a token of a disabled owner, or of one removed from the tenant, is refused", async () => {
    const db = t.deps.database.db;
    const gone = await addTestMember(t, {
      email: "gone@acme.test",
      tenantId: acme,
      roleIds: ["role_admin"],
    });
    const off = await addTestMember(t, {
      email: "off@acme.test",
      tenantId: acme,
      roleIds: ["role_admin"],
    });
    const removed = await mint(gone.accessToken, ["audit.read"]);
    const disabled = await mint(off.accessToken, ["audit.read"]);
    expect((await readAudit(removed.secret)).status).toBe(200);
    expect((await readAudit(disabled.secret)).status).toBe(200);
    await db.delete(memberships).where(eq(memberships.userId, gone.userId));
    await db.update(users).set({ disabledAt: new Date() }).where(eq(users.id, off.userId));
    expect((await readAudit(removed.secret)).status).toBe(401);
    expect((await readAudit(disabled.secret)).status).toBe(401);
    expect(await db.select().from(apiTokens).where(eq(apiTokens.id, removed.token.id))).toEqual([]);
  });
});

describe("what creation refuses", () => {
  test("permissions the owner lacks: 403 listing them", async () => {
    const res = await create(viewer, { permissions: ["sites.read", "audit.read", "users.manage"] });
    const error = await errorOf(res);
    expect(error.status).toBe(403);
    expect(error.message).toContain("audit.read, users.manage");
    expect(error.message).not.toContain("sites.read");
  });

  test("unknown permissions and bad allowlist entries: 400 naming them", async () => {
    const unknown = await errorOf(await create(root, { permissions: ["audit.read", "root.all"] }));
    expect(unknown).toMatchObject({ status: 400, code: "invalid_input" });
    expect(unknown.message).toContain(`permissions.1: "root.all" is not a permission`);
    const badIp = await errorOf(
      await create(root, {
        permissions: ["audit.read"],
        ipAllowlist: ["10.0.0.0/8", "10.0.0.1/8"],
      }),
    );
    expect(badIp.message).toContain(`ipAllowlist.1: "10.0.0.1/8" has host bits set`);
    const tooMany = Array.from({ length: 21 }, (_, i) => `10.0.0.${i}`);
    expect((await create(root, { permissions: ["audit.read"], ipAllowlist: tooMany })).status)
      .toBe(400);
  });

  test("empty permissions, a bad expiry, a blank name or an extra field: 400", async () => {
    for (
      const body of [
        { permissions: [] },
        { permissions: ["audit.read"], expiresInDays: 0 },
        { permissions: ["audit.read"], expiresInDays: 366 },
        { permissions: ["audit.read"], expiresInDays: 1.5 },
        { permissions: ["audit.read"], name: "   " },
        { permissions: ["audit.read"], secretHash: "0".repeat(64) },
      ]
    ) {
      expect((await create(root, body)).status).toBe(400);
    }
  });

  test("another tenant answers like a missing one; a superuser must be a member", async () => {
    const foreign = await create(admin.accessToken, {
      permissions: ["audit.read"],
      tenantId: globex,
    });
    const missing = await create(admin.accessToken, {
      permissions: ["audit.read"],
      tenantId: "ten_doesnotexist",
    });
    expect(foreign.status).toBe(404);
    expect(await errorOf(foreign)).toEqual(await errorOf(missing));
    const notMember = await create(root, { permissions: ["audit.read"], tenantId: globex });
    expect(notMember.status).toBe(409);
  });
});

describe("tokens are not sessions", () => {
  test("a token cannot change the password or mint, list or revoke tokens", async () => {
    const { token, secret } = await mint(root, ["audit.read", "tokens.manage"]);
    const password = await postJson(t, "/api/v1/auth/password", {
      currentPassword: TEST_PASSWORD,
      newPassword: "brand-new-heron-42",
    }, bearer(secret));
    expect(password.status).toBe(403);
    expect((await create(secret, { permissions: ["audit.read"] })).status).toBe(403);
    expect((await send("GET", "/api/v1/tokens", secret)).status).toBe(403);
    expect((await send("DELETE", `/api/v1/tokens/${token.id}`, secret)).status).toBe(403);
  });

  test("a token acts only in its own tenant, even when its owner is a superuser", async () => {
    const { secret } = await mint(root, ["audit.read"]);
    const other = await readAudit(secret, { [TENANT_HEADER]: globex });
    const missing = await readAudit(secret, { [TENANT_HEADER]: "ten_doesnotexist" });
    expect(other.status).toBe(404);
    expect(await errorOf(other)).toEqual(await errorOf(missing));
    expect((await readAudit(secret, { [TENANT_HEADER]: acme })).status).toBe(200);
  });

  test("forged tokens are anonymous: wrong secret, truncated, wrong prefix, case", async () => {
    const { secret } = await mint(root, ["audit.read"]);
    const flipped = secret.slice(0, -1) + (secret.endsWith("a") ? "b" : "a");
    for (
      const forged of [
        flipped,
        secret.slice(0, -1),
        `cdx_${secret.slice(4)}`,
        secret.toUpperCase(),
        `${secret}a`,
      ]
    ) {
      expect((await readAudit(forged)).status).toBe(401);
    }
  });
});

describe("revoking and listing", () => {
  test("a revoked token gets 401 on its next request; concurrent revokes audit once", async () => {
    const { token, secret } = await mint(root, ["audit.read"]);
    expect((await readAudit(secret)).status).toBe(200);
    const revokes = await Promise.all(
      Array.from({ length: 4 }, () => send("DELETE", `/api/v1/tokens/${token.id}`, root)),
    );
    expect(revokes.map((res) => res.status)).toEqual([204, 204, 204, 204]);
    expect((await readAudit(secret)).status).toBe(401);
    const rows = await t.deps.database.db.select().from(auditLog)
      .where(and(eq(auditLog.action, "tokens.revoke"), eq(auditLog.resourceId, token.id)));
    expect(rows.length).toBe(1);
  });

  test("someone else's token cannot be revoked: 404 exactly like a missing one", async () => {
    const { token, secret } = await mint(root, ["audit.read"]);
    const foreign = await send("DELETE", `/api/v1/tokens/${token.id}`, admin.accessToken);
    const missing = await send("DELETE", "/api/v1/tokens/tok_doesnotexist", admin.accessToken);
    expect(foreign.status).toBe(404);
    expect(await errorOf(foreign)).toEqual(await errorOf(missing));
    expect((await readAudit(secret)).status).toBe(200);
  });

  test("the list shows only the caller's own tokens", async () => {
    const { token } = await mint(viewer, ["sites.read"], { name: "viewer token" });
    const list = await send("GET", "/api/v1/tokens", viewer);
    const { tokens } = (await list.json()) as { tokens: TokenView[] };
    expect(tokens.map((tk) => tk.id)).toEqual([token.id]);
  });

  test("tokens.manage lists and revokes members' tokens in its tenant only", async () => {
    const { token, secret } = await mint(viewer, ["sites.read"], { name: "to be revoked" });
    const globexToken = await mint(globexAdmin, ["audit.read"]);
    const list = await send("GET", "/api/v1/tenant/tokens", admin.accessToken);
    const { tokens } = (await list.json()) as { tokens: (TokenView & { ownerEmail: string })[] };
    expect(tokens.find((tk) => tk.id === token.id)?.ownerEmail).toBe("viewer@acme.test");
    expect(tokens.every((tk) => tk.tenantId === acme)).toBe(true);
    expect((await send("GET", "/api/v1/tenant/tokens", viewer)).status).toBe(403);

    const foreign = await send(
      "DELETE",
      `/api/v1/tenant/tokens/${globexToken.token.id}`,
      admin.accessToken,
    );
    const missing = await send(
      "DELETE",
      "/api/v1/tenant/tokens/tok_doesnotexist",
      admin.accessToken,
    );
    expect(foreign.status).toBe(404);
    expect(await errorOf(foreign)).toEqual(await errorOf(missing));
    expect((await readAudit(globexToken.secret)).status).toBe(200);

    // An admin's own token with tokens.manage may revoke too; the audit row names the token.
    const manager = await mint(admin.accessToken, ["tokens.manage"]);
    expect((await send("GET", "/api/v1/tokens", secret)).status).toBe(403);
    expect((await send("DELETE", `/api/v1/tenant/tokens/${token.id}`, manager.secret)).status)
      .toBe(204);
    // A live token is refused on own-account routes (403); a revoked one is anonymous (401).
    expect((await send("GET", "/api/v1/tokens", secret)).status).toBe(401);
    const [row] = await t.deps.database.db.select().from(auditLog)
      .where(and(eq(auditLog.action, "tokens.revoke"), eq(auditLog.resourceId, token.id)));
    expect(row).toMatchObject({
      actorKind: "api_token",
      actorId: manager.token.id,
      tenantId: acme,
    });
  });
});

describe("secrets stay secret", () => {
  test("the secret is in no log line, audit row or later response; the DB has its hash", async () => {
    const { token, secret } = await mint(root, ["audit.read"], { name: "leak check" });
    expect((await readAudit(secret)).status).toBe(200);
    const secretPart = secret.slice(28);
    const list = await (await send("GET", "/api/v1/tokens", root)).text();
    const tenantList = await (await send("GET", "/api/v1/tenant/tokens", root)).text();
    const audit = JSON.stringify(await t.deps.database.db.select().from(auditLog));
    for (const text of [t.logText(), list, tenantList, audit]) {
      expect(text).not.toContain(secretPart);
      expect(text).not.toContain(hashToken(secretPart));
    }
    expect(list).toContain(token.id);
    const [row] = await t.deps.database.db.select().from(apiTokens).where(
      eq(apiTokens.id, token.id),
    );
    expect(row?.secretHash).toBe(hashToken(secretPart));
    const created = await t.deps.database.db.select().from(auditLog)
      .where(and(eq(auditLog.action, "tokens.create"), eq(auditLog.resourceId, token.id)));
    expect(created[0]?.details).toMatchObject({ name: "leak check", permissions: ["audit.read"] });
  });
});

describe("client address allowlist", () => {
  test("over a real socket from 127.0.0.1: 10.0.0.0/8 is refused, 127.0.0.1/32 allowed", async () => {
    const { server, url } = serveTestApp(t);
    try {
      const outside = await mint(root, ["audit.read"], { ipAllowlist: ["10.0.0.0/8"] });
      const inside = await mint(root, ["audit.read"], { ipAllowlist: ["::1", "127.0.0.1/32"] });
      const get = (secret: string) => fetch(`${url}/api/v1/audit`, { headers: bearer(secret) });
      expect((await get(outside.secret)).status).toBe(401);
      expect((await get(inside.secret)).status).toBe(200);
      // Without a socket the address is unknown, and an allowlist refuses unknown clients.
      expect((await readAudit(inside.secret)).status).toBe(401);
      const { tokens } = (await (await send("GET", "/api/v1/tokens", root)).json()) as {
        tokens: TokenView[];
      };
      const listed = tokens.find((tk) => tk.id === inside.token.id);
      expect(listed).toMatchObject({ ipAllowlist: ["::1", "127.0.0.1"], lastUsedIp: "127.0.0.1" });
    } finally {
      await server.stop(true);
    }
  });
});

describe("expiry and last use, on a movable clock", () => {
  let clocked: TestApp;
  let clock = new Date("2031-03-01T12:00:00Z");

  beforeAll(async () => {
    clocked = await createTestApp({ now: () => clock });
  });
  afterAll(() => clocked.close());

  test("a token expires after its days; last use is written at most once a minute", async () => {
    const session = (await setupSuperuser(clocked)).accessToken;
    const res = await postJson(clocked, "/api/v1/tokens", {
      name: "short",
      permissions: ["audit.read"],
      expiresInDays: 1,
    }, bearer(session));
    const { token, secret } = (await res.json()) as Created;
    const use = () => clocked.app.request("/api/v1/audit", { headers: bearer(secret) });
    const lastUsed = async () =>
      (await clocked.deps.database.db.select().from(apiTokens).where(eq(apiTokens.id, token.id)))[0]
        ?.lastUsedAt?.toISOString();

    expect((await use()).status).toBe(200);
    const first = clock.toISOString();
    expect(await lastUsed()).toBe(first);
    clock = new Date(clock.getTime() + 30_000);
    expect((await use()).status).toBe(200);
    expect(await lastUsed()).toBe(first);
    clock = new Date(clock.getTime() + 31_000);
    expect((await use()).status).toBe(200);
    expect(await lastUsed()).toBe(clock.toISOString());

    clock = new Date(Date.parse(token.expiresAt) - 1);
    expect((await use()).status).toBe(200);
    clock = new Date(Date.parse(token.expiresAt));
    expect((await use()).status).toBe(401);
  });
});
