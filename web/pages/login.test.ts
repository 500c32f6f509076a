import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { LOGOUT_PATH } from "../../api/auth/cookies.ts";
import { decodeBase32IgnorePadding } from "@oslojs/encoding";
import { generateHOTP } from "@oslojs/otp";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { bearer, postJson, setupSuperuser, TEST_PASSWORD } from "../../scripts/testing/auth.ts";

let t: TestApp;
const ORIGIN = "http://localhost";

beforeAll(async () => {
  t = await createTestApp();
  await setupSuperuser(t, "root@example.com");
});
afterAll(() => t.close());

function postForm(path: string, fields: Record<string, string>, headers = {}) {
  return t.app.request(path, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(fields).toString(),
  });
}

function totp(manualKey: string, stepOffset = 0): string {
  const step = Math.floor(t.deps.now().getTime() / 30_000) + stepOffset;
  return generateHOTP(decodeBase32IgnorePadding(manualKey), BigInt(step), 6);
}

describe("login page", () => {
  test("renders the form with session.js and no refresh attempt without a next", async () => {
    const res = await t.app.request("/login");
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toMatch(/<script src="\/static\/session\.js\?v=[0-9a-f]+" defer=""><\/script>/);
    expect(html).not.toContain("data-try-refresh");
    expect(html).toContain('<a class="sign-in" href="/login">Sign in</a>');
    expect(html).not.toContain(`action="${LOGOUT_PATH}"`);
  });

  test("shows only known notices; a crafted key shows nothing", async () => {
    const known = await (await t.app.request("/login?notice=signed-out")).text();
    expect(known).toContain('<p class="flash flash-info" role="status">You are signed out.</p>');
    for (const key of ["constructor", "__proto__", "<b>hi</b>"]) {
      const html = await (await t.app.request(`/login?notice=${encodeURIComponent(key)}`)).text();
      expect(html).toContain('<div id="flash" class="flash-area"></div>');
    }
  });

  test("with a safe next, asks session.js to try the refresh cookie and go back there", async () => {
    const html = await (await t.app.request("/login?next=%2Faccount%3Ftab%3D1")).text();
    expect(html).toContain('data-try-refresh="" data-next="/account?tab=1"');
    expect(html).toContain('<input type="hidden" name="next" value="/account?tab=1"/>');
  });

  test("a wrong password keeps the email, never the password, and says what failed", async () => {
    const res = await postForm("/login", {
      email: "root@example.com",
      password: "wrong-password-123",
      next: "/account",
    });
    expect(res.status).toBe(401);
    expect(res.headers.get("set-cookie")).toBeNull();
    const html = await res.text();
    expect(html).toContain("Email or password is incorrect.");
    expect(html).toContain('value="root@example.com"');
    expect(html).not.toContain("wrong-password-123");
    expect(html).toMatch(/<input id="field-password" name="password" type="password" required=""/);
  });

  test("an email with markup is shown escaped", async () => {
    const email = "<script>alert(1)</script>@example.com";
    const html = await (await postForm("/login", { email, password: "x" })).text();
    expect(html).not.toContain("<script>alert(1)");
    expect(html).toContain('value="&lt;script&gt;alert(1)&lt;/script&gt;@example.com"');
  });

  test("a missing field is reported beside it", async () => {
    const res = await postForm("/login", { email: "root@example.com" });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("Password is required");
  });

  test("signing in sets the cookies and follows a safe next", async () => {
    const res = await postForm("/login", {
      email: "root@example.com",
      password: TEST_PASSWORD,
      next: "/account?x=1",
    });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/account?x=1");
    const names = res.headers.getSetCookie().map((c) => c.split("=")[0]);
    expect(names).toEqual([
      "__Host-caddis_access",
      "__Secure-caddis_refresh",
      "__Host-caddis_device",
    ]);
  });

  test("open-redirect attempts in next land on /", async () => {
    const attempts = [
      "//evil.example",
      "/\\evil.example",
      "\\\\evil.example",
      "https://evil.example/",
      "http:evil.example",
      "javascript:alert(1)",
      "/\t/evil.example",
      "/.//evil.example",
      "evil.example",
      "",
    ];
    for (const next of attempts) {
      const res = await postForm("/login", {
        email: "root@example.com",
        password: TEST_PASSWORD,
        next,
      });
      expect(res.status).toBe(303);
      expect(res.headers.get("location")).toBe("/");
      const page = await (await t.app.request(`/login?next=${encodeURIComponent(next)}`)).text();
      expect(page).not.toContain("data-try-refresh");
      expect(page).not.toContain('name="next"');
    }
  });

  test("a signed-in browser visiting /login goes on to next", async () => {
    const signIn = await postForm("/login", { email: "root@example.com", password: TEST_PASSWORD });
    const cookie = signIn.headers.getSetCookie()[0]?.split(";")[0] ?? "";
    const res = await t.app.request("/login?next=%2Faccount", { headers: { cookie } });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/account");
  });

  test("a cookie-carrying POST with a foreign or missing Origin is refused with 403", async () => {
    for (const origin of ["https://evil.example", undefined]) {
      const headers: Record<string, string> = { cookie: "__Host-caddis_device=x" };
      if (origin) headers.origin = origin;
      const res = await postForm("/login", {
        email: "root@example.com",
        password: TEST_PASSWORD,
      }, headers);
      expect(res.status).toBe(403);
      expect(res.headers.get("set-cookie")).toBeNull();
    }
    const same = await postForm("/login", {
      email: "root@example.com",
      password: TEST_PASSWORD,
    }, { cookie: "__Host-caddis_device=x", origin: ORIGIN });
    expect(same.status).toBe(303);
  });
});

describe("two-factor sign-in", () => {
  let manualKey = "";
  let backupCodes: string[] = [];

  beforeAll(async () => {
    const login = await postJson(t, "/api/v1/auth/login", {
      email: "root@example.com",
      password: TEST_PASSWORD,
    });
    const { accessToken } = await login.json() as { accessToken: string };
    const setup = await t.app.request("/api/v1/auth/2fa/setup", {
      method: "POST",
      headers: bearer(accessToken),
    });
    manualKey = (await setup.json() as { secret: string }).secret;
    const enable = await postJson(
      t,
      "/api/v1/auth/2fa/enable",
      { code: totp(manualKey) },
      bearer(accessToken),
    );
    backupCodes = (await enable.json() as { backupCodes: string[] }).backupCodes;
  });

  async function challenge(next?: string): Promise<string> {
    const fields: Record<string, string> = { email: "root@example.com", password: TEST_PASSWORD };
    if (next) fields.next = next;
    const res = await postForm("/login", fields);
    expect(res.status).toBe(200);
    expect(res.headers.get("set-cookie")).toBeNull();
    const html = await res.text();
    expect(html).toContain('name="backupCode"');
    const token = html.match(/name="mfaToken" value="([^"]+)"/)?.[1];
    if (!token) throw new Error("no mfaToken on the challenge page");
    return token;
  }

  test("the password step shows the challenge; a wrong code says how many tries are left", async () => {
    const mfaToken = await challenge("/account");
    const res = await postForm("/login/2fa", { mfaToken, code: "000000", next: "/account" });
    expect(res.status).toBe(401);
    const html = await res.text();
    expect(html).toContain("The code is not valid; 4 attempts left");
    expect(html).toContain(`value="${mfaToken}"`);
  });

  test("an empty code is asked for again without spending an attempt", async () => {
    const mfaToken = await challenge();
    const res = await postForm("/login/2fa", { mfaToken, code: "" });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("The code is required");
  });

  test("a TOTP code completes the sign-in and goes to next", async () => {
    const mfaToken = await challenge("/account");
    const res = await postForm("/login/2fa", {
      mfaToken,
      code: totp(manualKey, 1),
      next: "/account",
    });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/account");
    expect(res.headers.getSetCookie().some((c) => c.startsWith("__Host-caddis_access="))).toBe(
      true,
    );
  });

  test("a backup code completes the sign-in; the same code fails the next time", async () => {
    const code = backupCodes[0] ?? "";
    const first = await postForm("/login/2fa", { mfaToken: await challenge(), backupCode: code });
    expect(first.status).toBe(303);
    expect(first.headers.get("location")).toBe("/");
    const second = await postForm("/login/2fa", { mfaToken: await challenge(), backupCode: code });
    expect(second.status).toBe(401);
    const html = await second.text();
    expect(html).toContain("The backup code is not valid");
    expect(html).toMatch(/<details class="alternative" open="">/);
  });

  test("a used or made-up mfa token goes back to the password form", async () => {
    const res = await postForm("/login/2fa", { mfaToken: "made-up", code: "123456" });
    expect(res.status).toBe(401);
    const html = await res.text();
    expect(html).toContain("sign in again");
    expect(html).toContain('name="password"');
  });
});
