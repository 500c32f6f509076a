import { newId } from "../../db/ids.ts";
import { tenants } from "../../db/schema.ts";
import { addMembership } from "../../api/services/membership.ts";
import { createUser } from "../../api/services/users.ts";
import type { TestApp } from "./app.ts";
import { bearer, postJson, setupSuperuser, TEST_PASSWORD } from "./auth.ts";

/** Signs `email` in with the test password and returns the access token. */
export async function signIn(t: TestApp, email: string): Promise<string> {
  const res = await postJson(t, "/api/v1/auth/login", { email, password: TEST_PASSWORD });
  if (res.status !== 200) throw new Error(`sign-in failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { accessToken: string }).accessToken;
}

/** Completes first-run setup, whose superuser owns the "Acme" tenant; returns its token and Acme's id. */
export async function setupAcme(t: TestApp): Promise<{ rootToken: string; acme: string }> {
  const rootToken = (await setupSuperuser(t)).accessToken;
  const me = await t.app.request("/api/v1/auth/me", { headers: bearer(rootToken) });
  const acme = ((await me.json()) as { activeTenantId: string }).activeTenantId;
  return { rootToken, acme };
}

/**
 * Creates a user who is a member of `tenantId` holding `roleIds` (built-in ids like
 * `role_viewer`, or a custom role's id) and returns their id and a fresh access token.
 */
export async function addTestMember(
  t: TestApp,
  member: { email: string; tenantId: string; roleIds: string[] },
): Promise<{ userId: string; accessToken: string }> {
  const userId = await t.deps.database.db.transaction(async (tx) => {
    const user = await createUser(tx, { actor: { kind: "system" } }, {
      email: member.email,
      password: TEST_PASSWORD,
      isSuperuser: false,
    });
    await addMembership(tx, {
      tenantId: member.tenantId,
      userId: user.id,
      roleIds: member.roleIds,
    });
    return user.id;
  });
  return { userId, accessToken: await signIn(t, member.email) };
}

/** Creates a tenant directly (no owner) and returns its id, for a second tenant in a test. */
export async function addTestTenant(t: TestApp, name: string): Promise<string> {
  const id = newId("ten");
  await t.deps.database.db.insert(tenants).values({ id, name });
  return id;
}
