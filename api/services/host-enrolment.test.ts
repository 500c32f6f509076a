import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { ENROLMENT_TOKEN_PATTERN, EnrolResponse } from "../../agent/protocol/enrolment.ts";
import { generateSigningKeyPair } from "../../agent/protocol/signing.ts";
import { auditLog, hosts } from "../../db/schema.ts";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { memberAccess } from "../../scripts/testing/auth.ts";
import { addTestMember, addTestTenant, setupAcme } from "../../scripts/testing/members.ts";
import type { Access } from "../auth/route-access.ts";
import { hashToken } from "../auth/tokens.ts";
import { AppError } from "../errors.ts";
import type { AuditContext } from "./audit.ts";
import {
  createHost,
  createHostRecord,
  enrolHost,
  ENROLMENT_TTL_MS,
  enrolmentCommand,
  reissueEnrolment,
} from "./host-enrolment.ts";
import { revokeHost } from "./hosts.ts";

let t: TestApp;
let acme: string;
let globex: string;
let admin: Access;
// The test's clock: moved forward to expire tokens, never read from the wall.
let clock = new Date("2030-01-01T00:00:00.000Z");
const agentAudit: AuditContext = { actor: { kind: "anonymous" }, ip: "203.0.113.7" };
const userAudit = (access: Access): AuditContext => ({
  actor: { kind: "user", id: access.auth.userId },
});

beforeAll(async () => {
  t = await createTestApp({ now: () => clock });
  ({ acme } = await setupAcme(t));
  globex = await addTestTenant(t, "Globex");
  const member = await addTestMember(t, {
    email: "admin@acme.test",
    tenantId: acme,
    roleIds: ["role_admin"],
  });
  admin = memberAccess(
    [
      "hosts.create",
      "hosts.read",
      "hosts.update",
      "hosts.delete",
    ],
    acme,
    member.userId,
  );
});
afterAll(() => t.close());

async function failure(promise: Promise<unknown>): Promise<AppError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  if (!(err instanceof AppError)) throw new Error(`expected an AppError, got ${String(err)}`);
  return err;
}

async function stored(hostId: string) {
  const [row] = await t.deps.database.db.select().from(hosts).where(eq(hosts.id, hostId));
  if (!row) throw new Error(`host ${hostId} not stored`);
  return row;
}

const create = (name: string, access = admin) =>
  createHost(t.deps, access, userAudit(access), { name });

async function enrolWith(token: string) {
  const { publicKey } = await generateSigningKeyPair();
  return {
    publicKey,
    enrolled: enrolHost(t.deps, agentAudit, { token, publicKey, hostname: "web" }),
  };
}

describe("createHost", () => {
  test("stores only the token's hash and returns the exact command with the token in its environment", async () => {
    const { host, enrolment } = await create("web-1");
    expect(enrolment.token).toMatch(ENROLMENT_TOKEN_PATTERN);
    expect(enrolment.expiresAt).toBe(new Date(clock.getTime() + ENROLMENT_TTL_MS).toISOString());
    expect(enrolment.command).toBe(
      `CADDIS_ENROL_TOKEN=${enrolment.token} bun agent/main.ts enroll --api ` +
        `${t.deps.config.publicUrl} && bun agent/main.ts run`,
    );
    expect(host).toMatchObject({ name: "web-1", status: "pending", enrolled: false, drift: false });
    const row = await stored(host.id);
    expect(row.enrolmentTokenHash).toBe(hashToken(enrolment.token));
    expect(JSON.stringify(row)).not.toContain(enrolment.token);
  });

  test("audits host.create with the name and never the token", async () => {
    const { host, enrolment } = await create("audited");
    const rows = await t.deps.database.db.select().from(auditLog)
      .where(eq(auditLog.resourceId, host.id));
    expect(rows.map((r) => [r.action, r.details, r.tenantId])).toEqual([
      ["host.create", { name: "audited" }, acme],
    ]);
    expect(JSON.stringify(rows)).not.toContain(enrolment.token);
  });

  test("trims and lowercases the name, and refuses names that are not one DNS label", async () => {
    const { host } = await createHost(t.deps, admin, userAudit(admin), { name: "  DB-Main " });
    expect(host.name).toBe("db-main");
    for (const name of ["", "-edge", "edge-", "under_score", "a".repeat(64), "dot.ted"]) {
      const err = await failure(create(name));
      expect(err.code).toBe("invalid_input");
      expect(Object.keys(err.fields ?? {})).toEqual(["name"]);
    }
  });

  test("a name taken by a live host of the tenant is a 409; another tenant or a revoked host frees it", async () => {
    const first = await create("shared");
    const clash = await failure(create("shared"));
    expect([clash.code, clash.message]).toEqual([
      "conflict",
      'A host named "shared" already exists',
    ]);
    const member = await addTestMember(t, {
      email: "admin@globex.test",
      tenantId: globex,
      roleIds: ["role_admin"],
    });
    expect(
      (await create("shared", memberAccess(["hosts.create"], globex, member.userId))).host.name,
    )
      .toBe("shared");
    await revokeHost(t.deps, admin, userAudit(admin), first.host.id);
    expect((await create("shared")).host.id).not.toBe(first.host.id);
  });

  test("needs hosts.create", async () => {
    const viewer = memberAccess(["hosts.read"], acme, admin.auth.userId);
    expect((await failure(create("nope", viewer))).code).toBe("forbidden");
  });

  test("the command quotes an API address a shell would otherwise split", () => {
    expect(enrolmentCommand("https://panel.example/caddis it's", "cde_x")).toBe(
      "CADDIS_ENROL_TOKEN=cde_x bun agent/main.ts enroll --api " +
        `'https://panel.example/caddis it'\\''s' && bun agent/main.ts run`,
    );
  });
});

describe("createHostRecord", () => {
  test("creates the one local host; a second live one is a 409", async () => {
    const local = await t.deps.database.db.transaction((tx) =>
      createHostRecord(tx, t.deps, {
        tenantId: acme,
        name: "local",
        isLocal: true,
        createdBy: null,
      })
    );
    expect(local.host).toMatchObject({ name: "local", isLocal: true, status: "pending" });
    expect(local.token).toMatch(ENROLMENT_TOKEN_PATTERN);
    const again = await failure(
      t.deps.database.db.transaction((tx) =>
        createHostRecord(tx, t.deps, {
          tenantId: globex,
          name: "here",
          isLocal: true,
          createdBy: null,
        })
      ),
    );
    expect([again.code, again.message]).toEqual(["conflict", "The local host is already enrolled"]);
  });
});

describe("enrolHost", () => {
  test("stores the agent's key, answers with the host id and the API's key, and audits as the agent", async () => {
    const { host, enrolment } = await create("enrol-1");
    const { publicKey, enrolled } = await enrolWith(enrolment.token);
    const response = EnrolResponse.parse(await enrolled);
    expect(response).toEqual({
      hostId: host.id,
      apiPublicKey: t.deps.commandSigner.publicKey,
      wsPath: "/api/v1/agent/ws",
    });
    const row = await stored(host.id);
    expect(row).toMatchObject({ publicKey, enrolmentTokenHash: null, enrolmentExpiresAt: null });
    expect(row.enrolledAt?.toISOString()).toBe(clock.toISOString());
    const [audit] = await t.deps.database.db.select().from(auditLog)
      .where(eq(auditLog.action, "host.enrolled"));
    expect(audit).toMatchObject({
      actorKind: "agent",
      actorId: host.id,
      tenantId: acme,
      ip: "203.0.113.7",
      details: { name: "enrol-1", hostname: "web" },
    });
  });

  test("a token works once; the second use gets the same answer as an unknown token", async () => {
    const { enrolment } = await create("enrol-2");
    await (await enrolWith(enrolment.token)).enrolled;
    const used = await failure((await enrolWith(enrolment.token)).enrolled);
    const unknown = await failure((await enrolWith(`cde_${"a".repeat(52)}`)).enrolled);
    expect(used.code).toBe("bad_request");
    expect([unknown.code, unknown.message]).toEqual([used.code, used.message]);
  });

  test("an expired token is refused, with the same answer", async () => {
    const { host, enrolment } = await create("enrol-3");
    const saved = clock;
    clock = new Date(saved.getTime() + ENROLMENT_TTL_MS);
    try {
      const expired = await failure((await enrolWith(enrolment.token)).enrolled);
      expect(expired.code).toBe("bad_request");
      expect((await stored(host.id)).publicKey).toBeNull();
    } finally {
      clock = saved;
    }
  });

  test("a revoked host's token is refused", async () => {
    const { host, enrolment } = await create("enrol-4");
    await revokeHost(t.deps, admin, userAudit(admin), host.id);
    expect((await failure((await enrolWith(enrolment.token)).enrolled)).code).toBe("bad_request");
  });

  test("a key that is not 32 bytes is refused and leaves the token usable", async () => {
    const { enrolment } = await create("enrol-5");
    const bad = await failure(enrolHost(t.deps, agentAudit, {
      token: enrolment.token,
      publicKey: "c2hvcnQ",
      hostname: "web",
    }));
    expect(bad.code).toBe("invalid_input");
    await (await enrolWith(enrolment.token)).enrolled;
  });

  test("of several agents racing with one token, exactly one enrols", async () => {
    const { host, enrolment } = await create("enrol-race");
    const attempts = await Promise.all(Array.from({ length: 6 }, () => enrolWith(enrolment.token)));
    const outcomes = await Promise.allSettled(attempts.map((a) => a.enrolled));
    const won = outcomes.flatMap((o, i) => (o.status === "fulfilled" ? [attempts[i]] : []));
    expect(won).toHaveLength(1);
    for (const o of outcomes) {
      if (o.status === "rejected") expect((o.reason as AppError).code).toBe("bad_request");
    }
    expect((await stored(host.id)).publicKey).toBe(won[0]?.publicKey ?? "");
    const audits = await t.deps.database.db.select().from(auditLog)
      .where(eq(auditLog.resourceId, host.id));
    expect(audits.filter((a) => a.action === "host.enrolled")).toHaveLength(1);
  });
});

describe("reissueEnrolment", () => {
  test("a new token replaces the unused one and re-keys an enrolled host", async () => {
    const { host, enrolment } = await create("rekey");
    const first = await enrolWith(enrolment.token);
    await first.enrolled;
    const again = await reissueEnrolment(t.deps, admin, userAudit(admin), host.id);
    expect(again.enrolment.token).not.toBe(enrolment.token);
    expect(again.host.enrolled).toBe(true);
    const second = await enrolWith(again.enrolment.token);
    await second.enrolled;
    expect((await stored(host.id)).publicKey).toBe(second.publicKey);
    const [audit] = await t.deps.database.db.select().from(auditLog)
      .where(eq(auditLog.action, "host.reissue_enrolment"));
    expect(audit?.details).toEqual({ name: "rekey", rekey: true });
  });

  test("needs hosts.update; another tenant's or a revoked host is a 404", async () => {
    const { host } = await create("reissue-guard");
    const reader = memberAccess(["hosts.read"], acme, admin.auth.userId);
    expect((await failure(reissueEnrolment(t.deps, reader, userAudit(reader), host.id))).code)
      .toBe("forbidden");
    const outsider = memberAccess(["hosts.update"], globex, admin.auth.userId);
    expect((await failure(reissueEnrolment(t.deps, outsider, userAudit(outsider), host.id))).code)
      .toBe("not_found");
    await revokeHost(t.deps, admin, userAudit(admin), host.id);
    expect((await failure(reissueEnrolment(t.deps, admin, userAudit(admin), host.id))).code)
      .toBe("not_found");
  });
});
