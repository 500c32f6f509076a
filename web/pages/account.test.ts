import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { LOGOUT_PATH } from "../../api/auth/cookies.ts";
import { decodeBase32IgnorePadding } from "@oslojs/encoding";
import { generateHOTP } from "@oslojs/otp";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { setupSuperuser, TEST_PASSWORD } from "../../scripts/testing/auth.ts";

let t: TestApp;
const EMAIL = "root@example.com";
const ORIGIN = "http://localhost";
const FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const HOSTILE_AGENT = `<script>alert("ua")</script>`;

beforeAll(async () => {
  t = await createTestApp();
  await setupSuperuser(t, EMAIL);
});
afterAll(() => t.close());

/** A signed-in browser: the cookies a page sign-in set, sent the way a browser sends them. */
interface Browser {
  cookie: string;
  userAgent: string;
}

function request(browser: Browser | undefined, path: string, init: RequestInit = {}) {
  const headers = new Headers(init.headers);
  if (browser) {
    headers.set("cookie", browser.cookie);
    headers.set("user-agent", browser.userAgent);
    if (init.method === "POST") headers.set("origin", ORIGIN);
  }
  return Promise.resolve(t.app.request(path, { ...init, headers }));
}

function post(browser: Browser | undefined, path: string, fields = {}, headers = {}) {
  return request(browser, path, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(fields).toString(),
  });
}

async function signIn(userAgent = FIREFOX): Promise<Browser> {
  const res = await t.app.request("/login", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", "user-agent": userAgent },
    body: new URLSearchParams({ email: EMAIL, password: TEST_PASSWORD }).toString(),
  });
  if (res.status !== 303) throw new Error(`sign-in failed: ${res.status}`);
  // The refresh cookie is left out, as a browser leaves it out everywhere but its own path.
  const cookie = res.headers.getSetCookie()
    .map((c) => c.split(";")[0] ?? "")
    .filter((c) => !c.startsWith("__Secure-caddis_refresh="))
    .join("; ");
  return { cookie, userAgent };
}

async function accountHtml(browser: Browser): Promise<string> {
  const res = await request(browser, "/account");
  expect(res.status).toBe(200);
  return await res.text();
}

function totp(manualKey: string, stepOffset = 0): string {
  const step = Math.floor(t.deps.now().getTime() / 30_000) + stepOffset;
  return generateHOTP(decodeBase32IgnorePadding(manualKey), BigInt(step), 6);
}

describe("signed-out browsers", () => {
  test("pages that need a user redirect to /login with next pointing back", async () => {
    const account = await t.app.request("/account?tab=sessions");
    expect(account.status).toBe(302);
    expect(account.headers.get("location")).toBe("/login?next=%2Faccount%3Ftab%3Dsessions");
    const root = await t.app.request("/");
    expect(root.headers.get("location")).toBe("/login?next=%2F");
  });

  test("a post goes to the login page for the form's page; htmx gets HX-Redirect", async () => {
    const plain = await post(undefined, "/account/password", { currentPassword: "x" });
    expect(plain.status).toBe(303);
    expect(plain.headers.get("location")).toBe("/login?next=%2Faccount");
    const htmx = await post(undefined, "/account/sessions/revoke-others", {}, {
      "hx-request": "true",
    });
    expect(htmx.headers.get("hx-redirect")).toBe("/login?next=%2Faccount");
  });
});

describe("account page", () => {
  test("shows sessions, devices and the sign-in events, with this session marked", async () => {
    const browser = await signIn();
    const html = await accountHtml(browser);
    expect(html).toContain(`<span class="signed-in-as">${EMAIL}</span>`);
    expect(html).toContain(`<form class="sign-out" method="post" action="${LOGOUT_PATH}">`);
    expect(html).toContain("Firefox 133 on Linux");
    expect(html).toContain("This session");
    expect(html).toContain('id="devices"');
    expect(html).toContain("Sign-in from a new device");
    expect(html).toContain("Signed in with password");
    expect(html).toMatch(
      /<time datetime="\d{4}-\d\d-\d\dT[\d:.]+Z">\d{4}-\d\d-\d\d \d\d:\d\d UTC<\/time>/,
    );
  });

  test("a signed-in browser at / gets the dashboard, with the signed-in header", async () => {
    const browser = await signIn();
    const root = await request(browser, "/");
    expect(root.status).toBe(200);
    const dashboard = await root.text();
    expect(dashboard).toContain("<h1>Dashboard</h1>");
    expect(dashboard).toContain('<a href="/account">Account</a>');
  });

  test("a user agent with markup is rendered as text", async () => {
    const browser = await signIn(HOSTILE_AGENT);
    const html = await accountHtml(browser);
    expect(html).not.toContain("<script>alert");
    expect(html).toContain('title="&lt;script&gt;alert(&quot;ua&quot;)&lt;/script&gt;"');
  });
});

describe("password", () => {
  test("a wrong current password is shown inline; nothing typed is echoed", async () => {
    const browser = await signIn();
    const res = await post(browser, "/account/password", {
      currentPassword: "not-my-password-1",
      newPassword: "brand-new-heron-42",
    });
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain("Password is not your current password");
    expect(html).not.toContain("not-my-password-1");
    expect(html).not.toContain("brand-new-heron-42");
  });

  test("a weak new password is reported beside the new-password field", async () => {
    const browser = await signIn();
    const res = await post(browser, "/account/password", {
      currentPassword: TEST_PASSWORD,
      newPassword: "short",
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("New password must be at least 12 characters");
  });

  test("changing it signs out the other sessions and says so", async () => {
    const other = await signIn();
    const browser = await signIn();
    const res = await post(browser, "/account/password", {
      currentPassword: TEST_PASSWORD,
      newPassword: "brand-new-heron-42",
    });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/account?notice=password-changed");
    const html = await (await request(browser, "/account?notice=password-changed")).text();
    expect(html).toContain("Password changed; other sessions were signed out");
    expect((await request(other, "/account")).status).toBe(302);
    // Put it back for the tests after this one.
    const back = await post(browser, "/account/password", {
      currentPassword: "brand-new-heron-42",
      newPassword: TEST_PASSWORD,
    });
    expect(back.status).toBe(303);
  });

  test("an unknown notice key shows nothing", async () => {
    const browser = await signIn();
    const html = await accountHtml(browser);
    const crafted = await (await request(browser, "/account?notice=constructor")).text();
    expect(crafted.match(/class="flash /g)).toEqual(html.match(/class="flash /g));
  });
});

describe("sessions and devices", () => {
  test("htmx revoke returns the updated sessions fragment; the revoked cookie stops working", async () => {
    const victim = await signIn();
    const browser = await signIn();
    const page = await accountHtml(browser);
    const ids = [...page.matchAll(/\/account\/sessions\/(ses_[^/"]+)\/revoke/g)].map((m) => m[1]);
    expect(ids.length).toBeGreaterThan(0);
    let victimGone = false;
    for (const id of ids) {
      const res = await post(browser, `/account/sessions/${id}/revoke`, {}, {
        "hx-request": "true",
      });
      expect(res.status).toBe(200);
      const fragment = await res.text();
      expect(fragment).toStartWith('<section class="section" id="sessions"');
      expect(fragment).toContain("The session was signed out.");
      expect(fragment).not.toContain(`/account/sessions/${id}/revoke`);
      victimGone ||= (await request(victim, "/account")).status === 302;
    }
    expect(victimGone).toBe(true);
    expect((await request(browser, "/account")).status).toBe(200);
  });

  test("sign out everywhere else keeps only this session; plain form posts redirect", async () => {
    const other = await signIn();
    const browser = await signIn();
    const res = await post(browser, "/account/sessions/revoke-others");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/account?notice=sessions-revoked");
    expect((await request(other, "/account")).status).toBe(302);
    const html = await accountHtml(browser);
    expect(html).not.toContain("Sign out everywhere else");
  });

  test("forgetting a device removes it and audits it", async () => {
    const browser = await signIn("curl/8.5.0");
    const page = await accountHtml(browser);
    const id = page.match(/\/account\/devices\/(dev_[^/"]+)\/forget/)?.[1] ?? "";
    const res = await post(browser, `/account/devices/${id}/forget`, {}, { "hx-request": "true" });
    expect(res.status).toBe(200);
    const fragment = await res.text();
    expect(fragment).toStartWith('<section class="section" id="devices"');
    expect(fragment).not.toContain(id);
    const rows = await t.database.rawSql(
      `select outcome from audit_log where action = 'auth.device_forget' and resource_id = '${id}'`,
    );
    expect(rows).toEqual([{ outcome: "success" }]);
  });
});

describe("two-factor authentication", () => {
  test("setup shows the QR code and key; confirming shows 10 backup codes once", async () => {
    const browser = await signIn();
    expect(await accountHtml(browser)).toContain("Set up two-factor authentication");
    const setup = await post(browser, "/account/2fa/setup");
    expect(setup.status).toBe(200);
    const setupHtml = await setup.text();
    expect(setupHtml).toMatch(/<div class="qr"><svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    const key = setupHtml.match(/id="totp-key">([A-Z2-7 ]+)</)?.[1]?.replaceAll(" ", "") ?? "";
    expect(key).toHaveLength(32);

    const wrong = await post(browser, "/account/2fa/enable", { code: "000000" });
    expect(wrong.status).toBe(400);
    const wrongHtml = await wrong.text();
    expect(wrongHtml).toContain("The code is not valid");
    expect(wrongHtml).not.toContain("<svg");

    const enable = await post(browser, "/account/2fa/enable", { code: totp(key) });
    expect(enable.status).toBe(200);
    const codes = [...(await enable.text()).matchAll(/<li><code>([^<]+)<\/code><\/li>/g)];
    expect(codes).toHaveLength(10);
    const account = await accountHtml(browser);
    expect(account).toContain("10 backup codes left.");
    expect(account).toContain("Two-factor authentication turned on");

    const badRegenerate = await post(browser, "/account/2fa/backup-codes", {
      password: "nope-nope-nope",
    });
    expect(badRegenerate.status).toBe(400);
    expect(await badRegenerate.text()).toContain("Password is not your current password");
    const regenerate = await post(browser, "/account/2fa/backup-codes", {
      password: TEST_PASSWORD,
    });
    expect(regenerate.status).toBe(200);
    expect([...(await regenerate.text()).matchAll(/<li><code>/g)]).toHaveLength(10);

    const disable = await post(browser, "/account/2fa/disable", {
      password: TEST_PASSWORD,
      code: totp(key, 1),
    });
    expect(disable.status).toBe(303);
    expect(disable.headers.get("location")).toBe("/account?notice=2fa-disabled");
    expect(await accountHtml(browser)).toContain("Two-factor authentication turned off");
  });
});

describe("sign out", () => {
  test("ends the session, clears the cookies and shows the login page", async () => {
    const browser = await signIn();
    const res = await post(browser, LOGOUT_PATH);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/login?notice=signed-out");
    const cleared = res.headers.getSetCookie();
    expect(cleared.some((c) => c.startsWith("__Host-caddis_access=;"))).toBe(true);
    expect(cleared.some((c) => c.startsWith("__Secure-caddis_refresh=;"))).toBe(true);
    expect((await request(browser, "/account")).status).toBe(302);
    const login = await (await t.app.request("/login?notice=signed-out")).text();
    expect(login).toContain("You are signed out.");
  });

  test("ends the session from the refresh cookie after the access cookie has expired", async () => {
    const res = await t.app.request("/login", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ email: EMAIL, password: TEST_PASSWORD }).toString(),
    });
    const refresh = res.headers.getSetCookie()
      .map((c) => c.split(";")[0] ?? "")
      .find((c) => c.startsWith("__Secure-caddis_refresh=")) ?? "";
    const out = await t.app.request(LOGOUT_PATH, {
      method: "POST",
      headers: {
        cookie: refresh,
        origin: "http://localhost",
        "content-type": "application/x-www-form-urlencoded",
      },
    });
    expect(out.status).toBe(303);
    const again = await t.app.request("/api/v1/auth/refresh", {
      method: "POST",
      headers: { cookie: refresh, origin: "http://localhost" },
    });
    expect(again.status).toBe(401);
  });
});
