import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { memberAccess, superuserAccess } from "../../scripts/testing/auth.ts";
import { AppError } from "../errors.ts";
import { type AuditContext, recordAuditNow } from "./audit.ts";
import {
  type AuditEntryView,
  AuditQueryInput,
  encodeAuditCursor,
  escapeLike,
  searchAudit,
} from "./audit-search.ts";

let t: TestApp;
const root = superuserAccess();
const alice: AuditContext = { actor: { kind: "user", id: "usr_alice" }, tenantId: "ten_a" };
const bob: AuditContext = { actor: { kind: "user", id: "usr_bob" }, tenantId: "ten_b" };
const system: AuditContext = { actor: { kind: "system" } };

beforeAll(async () => {
  t = await createTestApp();
  const db = t.deps.database.db;
  await recordAuditNow(db, alice, { action: "auth.login", outcome: "success" });
  await recordAuditNow(db, alice, { action: "auth.login", outcome: "failure" });
  await recordAuditNow(db, bob, { action: "auth.login", outcome: "success" });
  await recordAuditNow(db, bob, {
    action: "sites.create",
    resourceType: "site",
    resourceId: "sit_1",
    outcome: "success",
  });
  await recordAuditNow(db, alice, {
    action: "sites.delete",
    resourceType: "site",
    resourceId: "sit_1",
    outcome: "denied",
  });
  // Look-alikes for the wildcard tests: only an escaped `_` / `%` tells these apart.
  await recordAuditNow(db, system, { action: "auth_x.probe", outcome: "success" });
  await recordAuditNow(db, system, { action: "authx.probe", outcome: "success" });
  await recordAuditNow(db, system, {
    action: "hosts.update",
    resourceType: "host",
    resourceId: "50%_off",
    outcome: "success",
  });
});
afterAll(() => t.close());

const search = (query: Record<string, unknown>) =>
  searchAudit(t.deps, root, AuditQueryInput.parse(query));
const actions = (entries: AuditEntryView[]) => entries.map((e) => e.action);

describe("searchAudit filters", () => {
  test("returns newest first with ISO times and details", async () => {
    const { entries, nextCursor } = await search({});
    expect(entries.length).toBe(8);
    expect(entries[0]?.action).toBe("hosts.update");
    expect(entries.map((e) => e.seq)).toEqual([...entries.map((e) => e.seq)].sort((a, b) => b - a));
    expect(entries[0]?.occurredAt).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/);
    expect(entries[0]?.details).toEqual({});
    expect(nextCursor).toBeNull();
  });

  test("combines actor, action and outcome with AND", async () => {
    const { entries } = await search({
      actor: "usr_alice",
      action: "auth.login",
      outcome: "success",
    });
    expect(entries.length).toBe(1);
    expect(entries[0]).toMatchObject({ actorId: "usr_alice", outcome: "success" });
  });

  test("matches an action prefix with a trailing *", async () => {
    const { entries } = await search({ action: "sites.*" });
    expect(actions(entries)).toEqual(["sites.delete", "sites.create"]);
  });

  test("filters by resource, tenant and actor kind", async () => {
    expect(actions((await search({ resourceType: "site", resourceId: "sit_1" })).entries))
      .toEqual(["sites.delete", "sites.create"]);
    expect((await search({ tenantId: "ten_b" })).entries.length).toBe(2);
    expect((await search({ actorKind: "system" })).entries.length).toBe(3);
  });

  test("filters by a time window, from inclusive and to exclusive", async () => {
    const all = (await search({})).entries;
    const third = all[2];
    if (!third) throw new Error("missing row");
    const since = (await search({ from: third.occurredAt })).entries;
    expect(since.every((e) => e.occurredAt >= third.occurredAt)).toBe(true);
    expect(since.map((e) => e.id)).toContain(third.id);
    const before = (await search({ to: third.occurredAt })).entries;
    expect(before.every((e) => e.occurredAt < third.occurredAt)).toBe(true);
    expect((await search({ from: "2999-01-01T00:00:00Z" })).entries).toEqual([]);
  });
});

describe("searchAudit with hostile input", () => {
  test("treats % and _ in an action prefix as literal characters", async () => {
    expect(actions((await search({ action: "auth_*" })).entries)).toEqual(["auth_x.probe"]);
    expect((await search({ action: "%*" })).entries).toEqual([]);
    expect((await search({ action: "%" })).entries).toEqual([]);
    expect(escapeLike("a\\b%c_d")).toBe("a\\\\b\\%c\\_d");
  });

  test("matches % and _ in exact filters only literally", async () => {
    expect((await search({ resourceId: "50%_off" })).entries.length).toBe(1);
    expect((await search({ resourceId: "%" })).entries).toEqual([]);
  });

  test("treats SQL in a filter as a value, and the table survives", async () => {
    const hostile = "'; drop table audit_log; --";
    expect((await search({ actor: hostile, action: `${hostile}*` })).entries).toEqual([]);
    expect((await search({})).entries.length).toBeGreaterThan(0);
  });

  test("rejects a 10 KB filter, a mid-string *, an unknown field and a reversed window", () => {
    expect(AuditQueryInput.safeParse({ actor: "x".repeat(10_240) }).success).toBe(false);
    expect(AuditQueryInput.safeParse({ action: "a*b" }).success).toBe(false);
    expect(AuditQueryInput.safeParse({ sql: "1" }).success).toBe(false);
    expect(AuditQueryInput.safeParse({ limit: "500" }).success).toBe(false);
    expect(AuditQueryInput.safeParse({ limit: "0" }).success).toBe(false);
    const reversed = AuditQueryInput.safeParse({
      from: "2026-02-01T00:00:00Z",
      to: "2026-01-01T00:00:00Z",
    });
    expect(reversed.error?.issues[0]?.path).toEqual(["from"]);
  });

  test("rejects a malformed cursor as invalid input", async () => {
    expect(AuditQueryInput.safeParse({ cursor: "!!" }).success).toBe(false);
    for (const cursor of ["bm90LWEtbnVtYmVy", "LTE", "MC41", "MA", "A"]) {
      const parsed = AuditQueryInput.parse({ cursor });
      const err = await searchAudit(t.deps, root, parsed).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).status).toBe(400);
    }
  });

  test("refuses a caller without audit.read", async () => {
    const member = memberAccess(["audit.export"]);
    const err = await searchAudit(t.deps, member, AuditQueryInput.parse({})).catch((e) => e);
    expect((err as AppError).code).toBe("forbidden");
  });
});

describe("searchAudit keyset pagination", () => {
  test("returns every row exactly once while new rows arrive between pages", async () => {
    const expected = (await search({ limit: 200 })).entries.map((e) => e.id);
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 20; page++) {
      const result = await search(cursor ? { limit: 3, cursor } : { limit: 3 });
      seen.push(...result.entries.map((e) => e.id));
      // A writer appends between page requests; later pages must not shift or repeat.
      await recordAuditNow(t.deps.database.db, system, {
        action: "hosts.ping",
        outcome: "success",
      });
      if (!result.nextCursor) break;
      cursor = result.nextCursor;
    }
    expect(seen).toEqual(expected);
    expect(new Set(seen).size).toBe(seen.length);
  });

  test("issues opaque base64url cursors", () => {
    expect(encodeAuditCursor(12345)).toMatch(/^[A-Za-z0-9_-]+$/);
  });
});
