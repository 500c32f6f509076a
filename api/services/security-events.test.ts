import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { openTestDatabase, type TestDatabase } from "../../scripts/testing/db.ts";
import { type AuditContext, type AuditEntry, recordAuditNow } from "./audit.ts";
import { recentSecurityEvents } from "./security-events.ts";

let database: TestDatabase;

const ALICE = "usr_alice";
const BOB = "usr_bob";
const FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

function as(actor: AuditContext["actor"], extra: Partial<AuditContext> = {}): AuditContext {
  return { actor, ip: "203.0.113.7", userAgent: FIREFOX, ...extra };
}

function record(ctx: AuditContext, entry: AuditEntry) {
  return recordAuditNow(database.db, ctx, entry);
}

const alice = as({ kind: "user", id: ALICE });

beforeAll(async () => {
  database = await openTestDatabase();
  // Oldest first: the order the service must reverse.
  await record(as({ kind: "anonymous" }, { ip: "198.51.100.9" }), {
    action: "auth.login",
    resourceType: "user",
    resourceId: ALICE,
    outcome: "failure",
    details: { email: "alice@example.com", reason: "wrong_password" },
  });
  await record(alice, {
    action: "auth.new_device",
    resourceType: "device",
    resourceId: "dev_1",
    outcome: "success",
  });
  await record(alice, {
    action: "auth.login",
    resourceType: "session",
    resourceId: "ses_1",
    outcome: "success",
    details: { method: "totp" },
  });
  // Not a security event: never listed.
  await record(alice, { action: "auth.logout", resourceType: "session", outcome: "success" });
  await record(alice, {
    action: "auth.refresh_reuse",
    resourceType: "session",
    resourceId: "ses_1",
    outcome: "denied",
  });
  // Bob's own events, and an administrator (Bob) resetting Alice's password.
  await record(as({ kind: "user", id: BOB }), {
    action: "auth.login",
    resourceType: "session",
    resourceId: "ses_2",
    outcome: "success",
    details: { method: "password" },
  });
  await record(as({ kind: "user", id: BOB }), {
    action: "auth.password_reset",
    resourceType: "user",
    resourceId: ALICE,
    outcome: "success",
  });
});
afterAll(() => database.close());

describe("recentSecurityEvents", () => {
  test("lists the user's own security events newest first, with labels and browser", async () => {
    const events = await recentSecurityEvents({ database }, ALICE);
    expect(events.map((e) => [e.action, e.outcome, e.label])).toEqual([
      ["auth.password_reset", "success", "Password reset"],
      [
        "auth.refresh_reuse",
        "denied",
        "An old session token was reused; that session was signed out",
      ],
      ["auth.login", "success", "Signed in with password and authenticator code"],
      ["auth.new_device", "success", "Sign-in from a new device"],
      ["auth.login", "failure", "Failed sign-in attempt"],
    ]);
    expect(events[1]).toMatchObject({ ip: "203.0.113.7", device: "Firefox 133 on Linux" });
    expect(events.at(-1)).toMatchObject({ ip: "198.51.100.9", notable: true });
    expect(events.map((e) => e.notable)).toEqual([false, true, false, true, true]);
    const times = events.map((e) => e.occurredAt.getTime());
    expect([...times].sort((a, b) => b - a)).toEqual(times);
  });

  test("leaves out what the user did to other accounts", async () => {
    const events = await recentSecurityEvents({ database }, BOB);
    expect(events.map((e) => e.label)).toEqual(["Signed in with password"]);
  });

  test("returns at most `limit` rows", async () => {
    const events = await recentSecurityEvents({ database }, ALICE, 2);
    expect(events.map((e) => e.action)).toEqual(["auth.password_reset", "auth.refresh_reuse"]);
  });

  test("a user without events gets an empty list", async () => {
    expect(await recentSecurityEvents({ database }, "usr_nobody")).toEqual([]);
  });
});
