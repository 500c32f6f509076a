import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { prepareSetup } from "../../api/services/setup.ts";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { TEST_PASSWORD } from "../../scripts/testing/auth.ts";

let t: TestApp;
let token: string;

beforeAll(async () => {
  t = await createTestApp();
  const url = await prepareSetup(t.deps);
  token = new URL(url ?? "").searchParams.get("token") ?? "";
});
afterAll(() => t.close());

function postForm(path: string, fields: Record<string, string>, headers = {}) {
  return t.app.request(path, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(fields).toString(),
  });
}

// Order matters: the happy path runs last, since setup works only once per database.
describe("setup page", () => {
  test("without a token explains where the link comes from", async () => {
    const res = await t.app.request("/setup");
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain("Setup link not valid");
    expect(html).toContain("one-time setup link");
  });

  test("a dead setup link is explained before the form is filled in", async () => {
    const res = await t.app.request(`/setup?token=${"z".repeat(52)}`);
    expect(res.status).toBe(403);
    const html = await res.text();
    expect(html).toContain("invalid, used or expired");
    expect(html).not.toContain('name="password"');
  });

  test("with a token shows the form, carrying the token in a hidden field", async () => {
    const res = await t.app.request(`/setup?token=${token}`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain(`<input type="hidden" name="token" value="${token}"/>`);
    expect(html).toContain('name="tenantName"');
  });

  test("a wrong token gets a clear page, not a stack trace, and creates nothing", async () => {
    const res = await postForm("/setup", {
      token: "not-the-token",
      email: "root@example.com",
      password: TEST_PASSWORD,
      tenantName: "Acme",
    });
    expect(res.status).toBe(403);
    const html = await res.text();
    expect(html).toContain("Setup link not valid");
    expect(html).toContain("invalid, used or expired");
    expect(html).not.toContain("AppError");
    expect(html).not.toContain("requestId");
    expect(res.headers.get("set-cookie")).toBeNull();
  });

  test("a weak password is shown beside its field; email and organisation are kept", async () => {
    const res = await postForm("/setup", {
      token,
      email: "root@example.com",
      password: "password1234",
      tenantName: "Acme & Co",
    });
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain("Password is one of the most common passwords");
    expect(html).toContain('value="root@example.com"');
    expect(html).toContain('value="Acme &amp; Co"');
    expect(html).not.toContain("password1234");
  });

  test("a valid token creates the account, sets secure cookies and goes to /", async () => {
    const res = await postForm("/setup", {
      token,
      email: "root@example.com",
      password: TEST_PASSWORD,
      tenantName: "Acme",
    });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/");
    const cookies = res.headers.getSetCookie();
    const access = cookies.find((c) => c.startsWith("__Host-caddis_access="));
    const refresh = cookies.find((c) => c.startsWith("__Secure-caddis_refresh="));
    for (const cookie of [access, refresh]) {
      expect(cookie).toBeDefined();
      for (const part of ["HttpOnly", "Secure", "SameSite=Strict"]) expect(cookie).toContain(part);
      expect(cookie?.toLowerCase()).not.toContain("domain=");
    }
    expect(access).toContain("Path=/;");
    expect(refresh).toContain("Path=/api/v1/auth/refresh");
    expect(await res.text()).not.toContain(TEST_PASSWORD);
  });

  test("once done, the page says so and the used link stays dead", async () => {
    const page = await t.app.request(`/setup?token=${token}`);
    expect(page.status).toBe(409);
    expect(await page.text()).toContain("Setup is complete");
    const again = await postForm("/setup", {
      token,
      email: "other@example.com",
      password: TEST_PASSWORD,
      tenantName: "Other",
    });
    expect(again.status).toBe(409);
    expect(again.headers.get("set-cookie")).toBeNull();
  });
});
