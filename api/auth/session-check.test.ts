import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { setupSuperuser } from "../../scripts/testing/auth.ts";

// The check is cached per auth epoch. These tests change the database behind the API's back
// (as another replica, a CLI or an operator would) and expect the very next check to see it.
let t: TestApp;
let sessionId: string;
let userId: string;

beforeAll(async () => {
  t = await createTestApp();
  const { accessToken } = await setupSuperuser(t);
  const claims = await t.deps.accessTokens.verify(accessToken, new Date());
  sessionId = claims?.sid ?? "";
  userId = claims?.sub ?? "";
});
afterAll(() => t.close());

const check = () => t.deps.validateSession(sessionId, userId, new Date());
const epoch = async () =>
  Number((await t.database.rawSql("select epoch from auth_epoch"))[0]?.epoch);

describe("cached session checks", () => {
  test("see a user change made elsewhere on the next request", async () => {
    expect((await check())?.isSuperuser).toBe(true);
    await t.database.rawSql(`update users set is_superuser = false where id = '${userId}'`);
    expect((await check())?.isSuperuser).toBe(false);
    await t.database.rawSql(`update users set is_superuser = true where id = '${userId}'`);
  });

  test("see a tenant's new 2FA rule on the next request", async () => {
    expect((await check())?.mustEnrolTotp).toBe(false);
    await t.database.rawSql("update tenants set require_2fa = true");
    expect((await check())?.mustEnrolTotp).toBe(true);
    await t.database.rawSql("update tenants set require_2fa = false");
    expect((await check())?.mustEnrolTotp).toBe(false);
  });

  test("are not disturbed by last-seen updates", async () => {
    await check();
    const before = await epoch();
    await t.database.rawSql(`update sessions set last_seen_at = now() where id = '${sessionId}'`);
    expect(await epoch()).toBe(before);
  });

  test("refuse a session revoked elsewhere on the next request", async () => {
    expect(await check()).toBeDefined();
    await t.database.rawSql(`update sessions set revoked_at = now() where id = '${sessionId}'`);
    expect(await check()).toBeUndefined();
  });

  test("refuse a session id presented with another user's id", async () => {
    expect(await t.deps.validateSession(sessionId, "usr_someone_else", new Date()))
      .toBeUndefined();
  });
});
