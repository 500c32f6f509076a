import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { INVALID_INVITATION } from "../../api/services/invitations.ts";
import { createUser } from "../../api/services/users.ts";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { bearer, postJson, TEST_PASSWORD } from "../../scripts/testing/auth.ts";
import { addTestMember, setupAcme } from "../../scripts/testing/members.ts";
import { formPost, pageGet, panelSignIn } from "../../scripts/testing/panel.ts";

let t: TestApp;
let rootToken: string;
let root: string;
let acme: string;
const SCRIPT = "<script>alert(1)</script>";

const signIn = (email: string) => panelSignIn(t, email);

const get = (cookie: string | undefined, path: string) => pageGet(t, cookie, path);
const post = (cookie: string | undefined, path: string, fields: [string, string][] = []) =>
  formPost(t, cookie, path, fields);

/** Invites through the page as root and returns the link's token, read from the page. */
async function inviteOnPage(email: string, roles = ["role_viewer"], cookie = root) {
  const res = await post(cookie, "/invitations", [
    ["email", email],
    ...roles.map((role): [string, string] => ["roles", role]),
  ]);
  const page = await res.text();
  const token = /\/invite\?token=([a-z0-9]+)/.exec(page)?.[1];
  if (res.status !== 200 || !token) throw new Error(`invite failed: ${res.status}`);
  return { token, page };
}

beforeAll(async () => {
  t = await createTestApp();
  ({ rootToken, acme } = await setupAcme(t));
  root = await signIn("root@example.com");
});
afterAll(() => t.close());

describe("the invitations page", () => {
  test("a signed-out browser goes to the login page, coming back to /invitations", async () => {
    const res = await get(undefined, "/invitations");
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/login?next=%2Finvitations");
  });

  test("a viewer gets the 403 page naming the permission, for the page and the form", async () => {
    await addTestMember(t, {
      email: "viewer@example.com",
      tenantId: acme,
      roleIds: ["role_viewer"],
    });
    const viewer = await signIn("viewer@example.com");
    for (
      const res of [
        await get(viewer, "/invitations"),
        await post(viewer, "/invitations", [["email", "a@example.com"], ["roles", "role_viewer"]]),
      ]
    ) {
      expect(res.status).toBe(403);
      const page = await res.text();
      expect(page).toContain("Not available to you");
      expect(page).toContain("users.manage");
    }
  });

  test("lists the tenant's roles as checkboxes in the invite form", async () => {
    const page = await (await get(root, "/invitations")).text();
    for (const role of ["role_owner", "role_admin", "role_developer", "role_viewer"]) {
      expect(page).toContain(`type="checkbox" name="roles" value="${role}"`);
    }
    expect(page).toContain('action="/invitations"');
  });

  test("shows a new link once, read-only, and lists the invitation as pending", async () => {
    const { token, page } = await inviteOnPage("pending@example.com", [
      "role_viewer",
      "role_developer",
    ]);
    expect(page).toMatch(/<input id="invitation-link" type="text" value="[^"]+" readonly/);
    expect(page).toContain("Send this link to pending@example.com");
    expect(page).toContain("viewer, developer");
    const again = await (await get(root, "/invitations")).text();
    expect(again).toContain("pending@example.com");
    expect(again).not.toContain(token);
  });

  test("refusals come back on the form: bad email, no role, existing member", async () => {
    const bad = await post(root, "/invitations", [["email", SCRIPT]]);
    expect(bad.status).toBe(400);
    const badPage = await bad.text();
    expect(badPage).toContain("Email is not a valid email address");
    expect(badPage).toContain("Roles must name at least one role");
    expect(badPage).not.toContain(SCRIPT);
    const member = await post(root, "/invitations", [
      ["email", "viewer@example.com"],
      ["roles", "role_viewer"],
    ]);
    expect(member.status).toBe(409);
    expect(await member.text()).toContain("viewer@example.com is already a member");
  });

  test("an admin inviting an owner gets the escalation refusal", async () => {
    await addTestMember(t, { email: "admin@example.com", tenantId: acme, roleIds: ["role_admin"] });
    const admin = await signIn("admin@example.com");
    const res = await post(admin, "/invitations", [
      ["email", "boss@example.com"],
      ["roles", "role_owner"],
    ]);
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("You cannot grant permissions you do not hold yourself");
  });

  test("revoking kills the link; an unknown id is a 404 page", async () => {
    const { token } = await inviteOnPage("revoke-me@example.com");
    const page = await (await get(root, "/invitations")).text();
    const id = /\/invitations\/(inv_[a-z0-9]+)\/revoke"><button[^>]*for revoke-me@/.exec(page)?.[1];
    expect(id).toBeDefined();
    const revoked = await post(root, `/invitations/${id}/revoke`);
    expect(revoked.status).toBe(303);
    expect(revoked.headers.get("location")).toBe("/invitations?notice=revoked");
    const after = await (await get(root, "/invitations?notice=revoked")).text();
    expect(after).toContain("Invitation revoked");
    expect(after).not.toContain("revoke-me@example.com");
    expect(await (await get(undefined, `/invite?token=${token}`)).text()).toContain(
      INVALID_INVITATION,
    );
    expect((await post(root, `/invitations/${id}/revoke`)).status).toBe(404);
  });
});

describe("the page behind the link", () => {
  test("a new account: shows org and email, asks a password twice, then joins", async () => {
    const { token } = await inviteOnPage("fresh@example.com");
    const form = await (await get(undefined, `/invite?token=${token}`)).text();
    expect(form).toContain("Join Acme");
    expect(form).toContain("fresh@example.com");
    expect(form).toContain('name="confirmPassword"');
    expect(form).toContain('autocomplete="new-password"');

    const fields = (password: string, confirm: string): [string, string][] => [
      ["token", token],
      ["password", password],
      ["confirmPassword", confirm],
    ];
    const mismatch = await post(undefined, "/invite", fields(TEST_PASSWORD, "something-else-42"));
    expect(mismatch.status).toBe(400);
    const mismatchPage = await mismatch.text();
    expect(mismatchPage).toContain("Repeat the password does not match the password");
    expect(mismatchPage).toContain(`name="token" value="${token}"`);
    const weak = await post(undefined, "/invite", fields("password1234", "password1234"));
    expect(weak.status).toBe(400);
    expect(await weak.text()).toContain("Password is one of the most common passwords");

    const joined = await post(undefined, "/invite", fields(TEST_PASSWORD, TEST_PASSWORD));
    expect(joined.status).toBe(200);
    expect(joined.headers.getSetCookie()).toEqual([]);
    const done = await joined.text();
    expect(done).toContain("You joined Acme");
    expect(done).toContain('href="/login"');
    await signIn("fresh@example.com");
    expect(t.logText()).not.toContain(token);
  });

  test("an existing account: asks for its current password; a wrong one keeps the form", async () => {
    await t.deps.database.db.transaction((tx) =>
      createUser(tx, { actor: { kind: "system" } }, {
        email: "loner@example.com",
        password: TEST_PASSWORD,
        isSuperuser: false,
      })
    );
    const { token } = await inviteOnPage("loner@example.com");
    const form = await (await get(undefined, `/invite?token=${token}`)).text();
    expect(form).toContain("Your current password");
    expect(form).toContain('autocomplete="current-password"');
    expect(form).not.toContain('name="confirmPassword"');
    const wrong = await post(undefined, "/invite", [["token", token], [
      "password",
      "not-it-at-all",
    ]]);
    expect(wrong.status).toBe(401);
    const wrongPage = await wrong.text();
    expect(wrongPage).toContain("Password is not this account&#39;s password");
    expect(wrongPage).toContain(`name="token" value="${token}"`);
    const right = await post(undefined, "/invite", [["token", token], ["password", TEST_PASSWORD]]);
    expect(right.status).toBe(200);
    expect(await right.text()).toContain("You joined Acme");
    // Used now: the link is dead for the page too.
    const reused = await post(undefined, "/invite", [["token", token], [
      "password",
      TEST_PASSWORD,
    ]]);
    expect(reused.status).toBe(400);
    expect(await reused.text()).toContain(INVALID_INVITATION);
  });

  test("a missing or unknown token explains itself instead of a form", async () => {
    for (const path of ["/invite", "/invite?token=nope", `/invite?token=${SCRIPT}`]) {
      const res = await get(undefined, path);
      expect(res.status).toBe(400);
      const page = await res.text();
      expect(page).toContain("Invitation link not valid");
      expect(page).not.toContain('<form class="panel');
      expect(page).not.toContain(SCRIPT);
    }
  });

  test("an organisation name with markup is shown as text", async () => {
    const created = await postJson(t, "/api/v1/tenants", { name: SCRIPT }, bearer(rootToken));
    const { id } = (await created.json()) as { id: string };
    const res = await postJson(t, `/api/v1/tenants/${id}/invitations`, {
      email: "evil-org@example.com",
      roles: ["role_viewer"],
    }, bearer(rootToken));
    const { link } = (await res.json()) as { link: string };
    const page = await (await get(undefined, new URL(link).pathname + new URL(link).search)).text();
    expect(page).not.toContain(SCRIPT);
    expect(page).toContain("&lt;script&gt;");
  });
});
