import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { auditLog, invitations, users } from "../../db/schema.ts";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { errorOf } from "../../scripts/testing/api.ts";
import { bearer, postJson, TEST_PASSWORD } from "../../scripts/testing/auth.ts";
import { addTestMember, setupAcme, signIn } from "../../scripts/testing/members.ts";
import { ACCOUNT_FAILURE_LIMIT } from "../auth/throttle.ts";
import { hashToken } from "../auth/tokens.ts";
import { rateLimitGroup } from "../rate-limit.ts";
import { INVALID_INVITATION, INVITATION_TTL_MS } from "../services/invitations.ts";

let t: TestApp;
let clockOffsetMs = 0;
// Set to stop the clock, so a throttle's delay cannot run out between two requests.
let frozenAt: Date | undefined;
let rootToken: string;
let acme: string;
let beta: string;
let adminToken: string;
let developerToken: string;
const links: string[] = [];

interface Me {
  tenantIds: string[];
  activeTenantId: string | null;
}

const get = (path: string, token: string, headers: Record<string, string> = {}) =>
  t.app.request(path, { headers: { ...bearer(token), ...headers } });

const me = async (token: string, headers: Record<string, string> = {}) =>
  (await (await get("/api/v1/auth/me", token, headers)).json()) as Me;

function invite(tenantId: string, body: unknown, token = rootToken) {
  return postJson(t, `/api/v1/tenants/${tenantId}/invitations`, body, bearer(token));
}

/** Invites `email` and returns the invitation id and the link's token. */
async function invited(email: string, roles = ["role_developer"], tenantId = acme) {
  const res = await invite(tenantId, { email, roles });
  expect(res.status).toBe(201);
  const body = (await res.json()) as { invitation: { id: string }; link: string };
  links.push(body.link);
  return { id: body.invitation.id, token: new URL(body.link).searchParams.get("token") ?? "" };
}

const accept = (token: string, password = TEST_PASSWORD) =>
  postJson(t, "/api/v1/invitations/accept", { token, password });

async function expectDeadLink(res: Response) {
  expect(res.status).toBe(400);
  expect((await errorOf(res)).message).toBe(INVALID_INVITATION);
}

beforeAll(async () => {
  t = await createTestApp({ now: () => frozenAt ?? new Date(Date.now() + clockOffsetMs) });
  ({ rootToken, acme } = await setupAcme(t));
  const created = await postJson(t, "/api/v1/tenants", { name: "Beta" }, bearer(rootToken));
  beta = ((await created.json()) as { id: string }).id;
  adminToken = (await addTestMember(t, {
    email: "admin@example.com",
    tenantId: acme,
    roleIds: ["role_admin"],
  })).accessToken;
  developerToken = (await addTestMember(t, {
    email: "dev@example.com",
    tenantId: acme,
    roleIds: ["role_developer"],
  })).accessToken;
});
afterAll(() => t.close());

describe("accepting an invitation", () => {
  test("creates the account and the membership, without signing anyone in", async () => {
    const { token } = await invited("New.Person@Example.com ");
    const res = await accept(token);
    expect(res.status).toBe(201);
    expect(res.headers.getSetCookie()).toEqual([]);
    const body = await res.json();
    expect(body).toEqual({
      userId: expect.stringMatching(/^usr_/),
      tenantId: acme,
      tenantName: "Acme",
      accountCreated: true,
    });
    const token2 = await signIn(t, "new.person@example.com");
    expect((await me(token2)).tenantIds).toEqual([acme]);
    // Developers see sites but manage nobody.
    expect((await get(`/api/v1/tenants/${acme}/invitations`, token2)).status).toBe(403);
  });

  test("adds an existing account to a second tenant, and it can switch between them", async () => {
    const bob = await addTestMember(t, {
      email: "bob@example.com",
      tenantId: acme,
      roleIds: ["role_viewer"],
    });
    const { token } = await invited("bob@example.com", ["role_admin"], beta);
    const res = await accept(token);
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({
      userId: bob.userId,
      tenantId: beta,
      tenantName: "Beta",
      accountCreated: false,
    });
    expect((await me(bob.accessToken)).tenantIds.sort()).toEqual([acme, beta].sort());
    const inBeta = { "X-Caddis-Tenant": beta };
    expect((await me(bob.accessToken, inBeta)).activeTenantId).toBe(beta);
    expect((await get(`/api/v1/tenants/${beta}/invitations`, bob.accessToken)).status).toBe(200);
    // Still a viewer in Acme: no user management there.
    expect((await get(`/api/v1/tenants/${acme}/invitations`, bob.accessToken)).status).toBe(403);
  });

  test("a wrong password for an existing account is a 401 and changes nothing", async () => {
    const { userId, accessToken } = await addTestMember(t, {
      email: "carol@example.com",
      tenantId: acme,
      roleIds: ["role_viewer"],
    });
    const { token } = await invited("carol@example.com", ["role_viewer"], beta);
    const wrong = await accept(token, "not-carols-password-at-all");
    expect(wrong.status).toBe(401);
    expect((await me(accessToken)).tenantIds).toEqual([acme]);
    // The token was not spent: the right password still works.
    const right = await accept(token);
    expect(right.status).toBe(201);
    expect(((await right.json()) as { userId: string }).userId).toBe(userId);
  });

  test("wrong passwords count towards the account's sign-in throttle", async () => {
    await addTestMember(t, { email: "dave@example.com", tenantId: acme, roleIds: [] });
    const { token } = await invited("dave@example.com", ["role_viewer"], beta);
    frozenAt = new Date();
    try {
      for (let i = 0; i < ACCOUNT_FAILURE_LIMIT; i++) {
        expect((await accept(token, "wrong-password-for-dave")).status).toBe(401);
      }
      const blocked = await accept(token);
      expect(blocked.status).toBe(429);
      expect(blocked.headers.get("retry-after")).toBe("1");
      const login = await postJson(t, "/api/v1/auth/login", {
        email: "dave@example.com",
        password: TEST_PASSWORD,
      });
      expect(login.status).toBe(429);
    } finally {
      frozenAt = undefined;
    }
  });

  test("both ways of accepting count in the strict sign-in rate-limit group", () => {
    expect(rateLimitGroup("POST", "/api/v1/invitations/accept")).toBe("auth");
    expect(rateLimitGroup("POST", "/invite")).toBe("auth");
    expect(rateLimitGroup("GET", "/invite")).toBe("pages");
  });

  test("a weak password for a new account is refused with field errors, the link kept", async () => {
    const { token } = await invited("weak@example.com");
    for (const password of ["short", "password1234", "weak@example.com"]) {
      const res = await accept(token, password);
      expect(res.status).toBe(400);
      expect(Object.keys((await errorOf(res)).fields ?? {})).toEqual(["password"]);
    }
    expect((await accept(token)).status).toBe(201);
  });

  test("a disabled account gets the same answer as a dead link", async () => {
    await addTestMember(t, { email: "gone@example.com", tenantId: acme, roleIds: [] });
    const { token } = await invited("gone@example.com", ["role_viewer"], beta);
    await t.deps.database.db.update(users).set({ disabledAt: new Date() })
      .where(eq(users.email, "gone@example.com"));
    await expectDeadLink(await accept(token));
  });
});

describe("dead links", () => {
  test("a link works once; unknown, used, revoked and expired links get one answer", async () => {
    const used = await invited("once@example.com");
    expect((await accept(used.token)).status).toBe(201);
    const revoked = await invited("revoked@example.com");
    const del = await t.app.request(`/api/v1/tenants/${acme}/invitations/${revoked.id}`, {
      method: "DELETE",
      headers: bearer(rootToken),
    });
    expect(del.status).toBe(204);
    const bodies = [];
    for (const token of [used.token, revoked.token, "a".repeat(52), "' or 1=1 --"]) {
      const res = await accept(token);
      expect(res.status).toBe(400);
      bodies.push(await errorOf(res));
    }
    expect(new Set(bodies.map((b) => JSON.stringify(b))).size).toBe(1);
    expect(bodies[0]?.message).toBe(INVALID_INVITATION);
  });

  test("an expired link is listed as expired and cannot be accepted", async () => {
    const { id, token } = await invited("late@example.com");
    clockOffsetMs = INVITATION_TTL_MS + 60_000;
    try {
      const lateRoot = await signIn(t, "root@example.com");
      const list = await get(`/api/v1/tenants/${acme}/invitations`, lateRoot);
      const { invitations: pending } = (await list.json()) as {
        invitations: { id: string; expired: boolean }[];
      };
      expect(pending.find((i) => i.id === id)?.expired).toBe(true);
      await expectDeadLink(await accept(token));
    } finally {
      clockOffsetMs = 0;
    }
  });

  test("inviting the same email again revokes the older link", async () => {
    const first = await invited("twice@example.com");
    const second = await invited("twice@example.com", ["role_viewer"]);
    await expectDeadLink(await accept(first.token));
    const list = await get(`/api/v1/tenants/${acme}/invitations`, rootToken);
    const { invitations: pending } = (await list.json()) as { invitations: { id: string }[] };
    expect(pending.map((i) => i.id)).toContain(second.id);
    expect(pending.map((i) => i.id)).not.toContain(first.id);
  });

  test("of parallel accepts exactly one succeeds, for a new and an existing account", async () => {
    await addTestMember(t, { email: "racer-b@example.com", tenantId: acme, roleIds: [] });
    for (const email of ["racer-a@example.com", "racer-b@example.com"]) {
      const { token } = await invited(email, ["role_viewer"], beta);
      const results = await Promise.all([accept(token), accept(token), accept(token)]);
      expect(results.map((r) => r.status).sort()).toEqual([201, 400, 400]);
    }
  });
});

describe("who may invite", () => {
  test("an admin cannot invite an owner, but can invite a viewer", async () => {
    const owner = await invite(acme, { email: "x@example.com", roles: ["role_owner"] }, adminToken);
    expect(owner.status).toBe(403);
    expect((await errorOf(owner)).message).toContain("tenants.update");
    const viewer = await invite(
      acme,
      { email: "x@example.com", roles: ["role_viewer"] },
      adminToken,
    );
    expect(viewer.status).toBe(201);
  });

  test("a developer cannot invite at all", async () => {
    const res = await invite(
      acme,
      { email: "y@example.com", roles: ["role_viewer"] },
      developerToken,
    );
    expect(res.status).toBe(403);
  });

  test("another tenant's id in the path answers exactly like a missing tenant", async () => {
    const body = { email: "z@example.com", roles: ["role_viewer"] };
    const other = await invite(beta, body, adminToken);
    const missing = await invite("ten_doesnotexist00000000000", body, adminToken);
    expect(other.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(await errorOf(other)).toEqual(await errorOf(missing));
    const list = await get(`/api/v1/tenants/${beta}/invitations`, adminToken);
    expect(list.status).toBe(404);
  });

  test("another tenant's invitation id answers exactly like a missing one", async () => {
    const { id } = await invited("beta-only@example.com", ["role_viewer"], beta);
    const revoke = (invitationId: string) =>
      t.app.request(`/api/v1/tenants/${acme}/invitations/${invitationId}`, {
        method: "DELETE",
        headers: bearer(adminToken),
      });
    const other = await revoke(id);
    const missing = await revoke("inv_doesnotexist");
    expect(other.status).toBe(404);
    expect(await errorOf(other)).toEqual(await errorOf(missing));
    // Untouched: it still works in its own tenant.
    const [row] = await t.deps.database.db.select().from(invitations).where(eq(invitations.id, id));
    expect(row?.revokedAt).toBeNull();
  });

  test("refuses members, unknown roles, bad emails and unknown fields", async () => {
    const member = await invite(acme, { email: "DEV@example.com", roles: ["role_viewer"] });
    expect(member.status).toBe(409);
    const unknownRole = await invite(acme, { email: "q@example.com", roles: ["rol_x'; drop"] });
    expect(unknownRole.status).toBe(404);
    for (
      const body of [
        { email: "<script>@x", roles: ["role_viewer"] },
        { email: "q@example.com", roles: [] },
        { email: "q@example.com", roles: Array(11).fill("role_viewer") },
        { email: "q@example.com", roles: ["role_viewer"], tenantId: beta },
      ]
    ) {
      expect((await invite(acme, body)).status).toBe(400);
    }
  });
});

describe("secrets and audit", () => {
  test("no link token reaches the log or the audit trail; the verbs are audited", async () => {
    const tokens = links.map((link) => new URL(link).searchParams.get("token") ?? "");
    expect(tokens.length).toBeGreaterThan(5);
    const rows = await t.deps.database.db.select().from(auditLog);
    const trail = JSON.stringify(rows);
    const log = t.logText();
    for (const token of tokens) {
      expect(log).not.toContain(token);
      expect(trail).not.toContain(token);
      expect(trail).not.toContain(hashToken(token));
    }
    const actions = new Set(rows.map((r) => r.action));
    for (const action of ["invitations.create", "invitations.revoke", "invitations.accept"]) {
      expect(actions).toContain(action);
    }
    const accepted = rows.find((r) => r.action === "invitations.accept" && r.tenantId === beta);
    expect(accepted?.outcome).toBe("success");
    const created = rows.find((r) => r.action === "invitations.create");
    expect(created?.details).toMatchObject({ email: expect.any(String), roles: expect.any(Array) });
  });
});
