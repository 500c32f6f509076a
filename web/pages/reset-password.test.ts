import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { bearer, postJson, setupSuperuser, TEST_PASSWORD } from "../../scripts/testing/auth.ts";

let t: TestApp;
let token: string;
const NEW_PASSWORD = "amber-kettle-orchard-93";

beforeAll(async () => {
  t = await createTestApp();
  const { accessToken } = await setupSuperuser(t);
  const me = await t.app.request("/api/v1/auth/me", { headers: bearer(accessToken) });
  const { id } = (await me.json()) as { id: string };
  const issued = await t.app.request(`/api/v1/users/${id}/password-reset`, {
    method: "POST",
    headers: bearer(accessToken),
  });
  const { resetUrl } = (await issued.json()) as { resetUrl: string };
  token = new URL(resetUrl).searchParams.get("token") ?? "";
});
afterAll(() => t.close());

function postForm(fields: Record<string, string>) {
  return t.app.request("/reset-password", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields).toString(),
  });
}

describe("reset-password page", () => {
  test("without a token explains what it needs", async () => {
    const res = await t.app.request("/reset-password");
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("reset link");
  });

  test("refuses a weak password inline and keeps the link usable", async () => {
    const res = await postForm({ token, newPassword: "password1234" });
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain("common");
    expect(html).toContain(`value="${token}"`);
    expect(html).not.toContain("password1234");
  });

  test("sets the password once, signs nobody in, and the link then dies", async () => {
    const res = await postForm({ token, newPassword: NEW_PASSWORD });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("Password changed");
    expect(res.headers.get("set-cookie")).toBeNull();

    const again = await postForm({ token, newPassword: NEW_PASSWORD });
    expect(again.status).toBe(400);
    expect(await again.text()).toContain("Reset link not valid");

    const old = await postJson(t, "/api/v1/auth/login", {
      email: "root@example.com",
      password: TEST_PASSWORD,
    });
    expect(old.status).toBe(401);
    const fresh = await postJson(t, "/api/v1/auth/login", {
      email: "root@example.com",
      password: NEW_PASSWORD,
    });
    expect(fresh.status).toBe(200);
  });

  test("escapes a hostile token echoed into the form", async () => {
    const res = await t.app.request(
      `/reset-password?token=${encodeURIComponent('"><script>x</script>')}`,
    );
    expect(await res.text()).not.toContain("<script>x</script>");
  });
});
