import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { encodeBase64urlNoPadding } from "@oslojs/encoding";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { bearer, postJson, setupSuperuser, TEST_PASSWORD } from "../../scripts/testing/auth.ts";
import { createUser } from "../services/users.ts";

let t: TestApp;
// The app's clock; tests move it to expire tokens without waiting.
let clockOffsetMs = 0;
let root: { accessToken: string; refreshToken: string };

beforeAll(async () => {
  t = await createTestApp({ now: () => new Date(Date.now() + clockOffsetMs) });
  root = await setupSuperuser(t);
});
afterAll(() => t.close());

const me = (token: string) => t.app.request("/api/v1/auth/me", { headers: bearer(token) });
const b64 = (value: unknown) =>
  encodeBase64urlNoPadding(new TextEncoder().encode(JSON.stringify(value)));

async function signIn(email = "root@example.com", password = TEST_PASSWORD) {
  const res = await postJson(t, "/api/v1/auth/login", { email, password });
  expect(res.status).toBe(200);
  return await res.json() as { accessToken: string; refreshToken: string };
}

describe("access tokens", () => {
  test("a fresh access token identifies its user", async () => {
    const res = await me(root.accessToken);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ email: "root@example.com", isSuperuser: true });
  });

  test("rejects alg none, HS512 and a tampered payload", async () => {
    const [, payload, signature] = root.accessToken.split(".") as [string, string, string];
    const claims = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/")));
    const forged = [
      `${b64({ alg: "none", typ: "JWT" })}.${payload}.`,
      `${b64({ alg: "none", typ: "JWT" })}.${payload}.${signature}`,
      `${b64({ alg: "HS512", typ: "JWT" })}.${payload}.${signature}`,
      `${b64({ alg: "HS256", typ: "JWT", kid: "../../dev/null" })}.${payload}.${signature}`,
      `${root.accessToken.split(".")[0]}.${
        b64({ ...claims, sub: "usr_someone_else" })
      }.${signature}`,
      `${root.accessToken.split(".")[0]}.${
        b64({ ...claims, exp: claims.exp + 3600 })
      }.${signature}`,
      `${root.accessToken}x`,
    ];
    for (const token of forged) expect((await me(token)).status).toBe(401);
  });

  test("expires 30 minutes after issue, to the second", async () => {
    const { accessToken } = await signIn();
    clockOffsetMs = 30 * 60 * 1000 - 2000;
    expect((await me(accessToken)).status).toBe(200);
    clockOffsetMs = 30 * 60 * 1000 + 1000;
    expect((await me(accessToken)).status).toBe(401);
    clockOffsetMs = 0;
  });

  test("a refresh token is not an access token, and the reverse", async () => {
    const { accessToken, refreshToken } = await signIn();
    expect((await me(refreshToken)).status).toBe(401);
    const res = await postJson(t, "/api/v1/auth/refresh", { refreshToken: accessToken });
    expect(res.status).toBe(401);
  });

  test("stops working at once when its session is logged out", async () => {
    const { accessToken } = await signIn();
    const out = await t.app.request("/api/v1/auth/logout", {
      method: "POST",
      headers: bearer(accessToken),
    });
    expect(out.status).toBe(204);
    expect((await me(accessToken)).status).toBe(401);
  });
});

describe("refresh tokens", () => {
  test("rotate on every use and keep the session", async () => {
    const first = await signIn();
    const res = await postJson(t, "/api/v1/auth/refresh", { refreshToken: first.refreshToken });
    expect(res.status).toBe(200);
    const second = await res.json() as {
      accessToken: string;
      refreshToken: string;
      tokenType: string;
    };
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(second.tokenType).toBe("Bearer");
    expect((await me(second.accessToken)).status).toBe(200);
  });

  test("a replayed refresh token revokes the whole session and is audited", async () => {
    const first = await signIn();
    const rotated =
      await (await postJson(t, "/api/v1/auth/refresh", { refreshToken: first.refreshToken }))
        .json() as { accessToken: string; refreshToken: string };
    const replay = await postJson(t, "/api/v1/auth/refresh", { refreshToken: first.refreshToken });
    expect(replay.status).toBe(401);
    // Both the thief's and the owner's copies are dead now.
    expect((await me(rotated.accessToken)).status).toBe(401);
    expect((await me(first.accessToken)).status).toBe(401);
    const next = await postJson(t, "/api/v1/auth/refresh", { refreshToken: rotated.refreshToken });
    expect(next.status).toBe(401);
    const rows = await t.database.rawSql(
      "select outcome from audit_log where action = 'auth.refresh_reuse'",
    );
    expect(rows.length).toBeGreaterThan(0);
  });

  test("of two concurrent refreshes with one token, at most one succeeds", async () => {
    const { refreshToken } = await signIn();
    const results = await Promise.all(
      Array.from({ length: 5 }, () => postJson(t, "/api/v1/auth/refresh", { refreshToken })),
    );
    expect(results.filter((r) => r.status === 200).length).toBeLessThanOrEqual(1);
  });

  test("a forged secret for a real token id is refused without revoking anything", async () => {
    const { accessToken, refreshToken } = await signIn();
    const [id] = refreshToken.split(".");
    const res = await postJson(t, "/api/v1/auth/refresh", {
      refreshToken: `${id}.${"a".repeat(52)}`,
    });
    expect(res.status).toBe(401);
    expect((await me(accessToken)).status).toBe(200);
  });

  test("ends 7 days after sign-in however often it rotates", async () => {
    const { refreshToken } = await signIn();
    clockOffsetMs = 7 * 24 * 60 * 60 * 1000 + 1000;
    const res = await postJson(t, "/api/v1/auth/refresh", { refreshToken });
    clockOffsetMs = 0;
    expect(res.status).toBe(401);
  });
});

describe("login", () => {
  test("unknown email and wrong password look the same", async () => {
    const unknown = await postJson(t, "/api/v1/auth/login", {
      email: "nobody@example.com",
      password: "wrong-password-1",
    });
    const wrong = await postJson(t, "/api/v1/auth/login", {
      email: "root@example.com",
      password: "wrong-password-1",
    });
    expect(unknown.status).toBe(401);
    expect(wrong.status).toBe(unknown.status);
    const strip = async (r: Response) => {
      const body = await r.json() as { error: { requestId?: string } };
      delete body.error.requestId;
      return body;
    };
    expect(await strip(wrong)).toEqual(await strip(unknown));
  });

  test("compares emails after NFKC, trimming and lowercasing", async () => {
    await signIn("  ROOT@Example.COM ");
    await signIn("ｒｏｏｔ@example.com");
  });

  test("sets the device cookie HttpOnly, Secure, SameSite=Strict, __Host- and without Domain", async () => {
    const res = await postJson(t, "/api/v1/auth/login", {
      email: "root@example.com",
      password: TEST_PASSWORD,
    });
    const cookie = res.headers.get("set-cookie") ?? "";
    expect(cookie).toStartWith("__Host-caddis_device=");
    for (const part of ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"]) {
      expect(cookie).toContain(part);
    }
    expect(cookie.toLowerCase()).not.toContain("domain=");
  });

  test("rejects unknown fields and oversized input with a 400", async () => {
    const extra = await postJson(t, "/api/v1/auth/login", {
      email: "root@example.com",
      password: "x",
      admin: true,
    });
    expect(extra.status).toBe(400);
    const huge = await postJson(t, "/api/v1/auth/login", {
      email: "root@example.com",
      password: "x".repeat(5000),
    });
    expect(huge.status).toBe(400);
  });
});

describe("sessions", () => {
  test("lists the caller's sessions with the current one marked", async () => {
    const { accessToken } = await signIn();
    const res = await t.app.request("/api/v1/auth/sessions", { headers: bearer(accessToken) });
    const { sessions } = await res.json() as { sessions: { id: string; current: boolean }[] };
    expect(sessions.filter((s) => s.current)).toHaveLength(1);
  });

  test("revoking another user's session id is a 404 and changes nothing", async () => {
    const mine = await signIn();
    const res = await t.app.request("/api/v1/auth/sessions/ses_doesnotexist000000000000", {
      method: "DELETE",
      headers: bearer(mine.accessToken),
    });
    expect(res.status).toBe(404);
  });

  test("sign out everywhere else keeps only the current session", async () => {
    const other = await signIn();
    const current = await signIn();
    const res = await t.app.request("/api/v1/auth/sessions/revoke-others", {
      method: "POST",
      headers: bearer(current.accessToken),
    });
    expect(res.status).toBe(200);
    expect((await me(other.accessToken)).status).toBe(401);
    expect((await me(current.accessToken)).status).toBe(200);
    root = current;
  });
});

describe("cookie-authenticated requests", () => {
  test("a cookie request with a foreign or missing Origin is refused with 403", async () => {
    const cookie = `__Host-caddis_access=${root.accessToken}`;
    for (const origin of ["https://evil.example", undefined, "null"]) {
      const headers: Record<string, string> = { cookie };
      if (origin) headers.origin = origin;
      const res = await t.app.request("/api/v1/auth/logout", { method: "POST", headers });
      expect(res.status).toBe(403);
    }
    expect((await me(root.accessToken)).status).toBe(200);
  });

  test("passes the Origin check from the panel's own origin", async () => {
    const res = await t.app.request("/api/v1/auth/refresh", {
      method: "POST",
      headers: { cookie: `__Host-caddis_access=${root.accessToken}`, origin: "http://localhost" },
    });
    // 401 for the missing refresh token, not 403: the request got past the Origin check.
    expect(res.status).toBe(401);
  });

  test("a cookie-authenticated safe request needs no Origin", async () => {
    const res = await t.app.request("/api/v1/auth/me", {
      headers: { cookie: `__Host-caddis_access=${root.accessToken}` },
    });
    expect(res.status).toBe(200);
  });
});

describe("setup", () => {
  test("is closed once the first superuser exists", async () => {
    const res = await postJson(t, "/api/v1/setup", {
      token: "a".repeat(52),
      email: "second@example.com",
      password: TEST_PASSWORD,
      tenantName: "Other",
    });
    expect(res.status).toBe(409);
  });
});

test("no password or token ever reached the log", () => {
  const log = t.logText();
  expect(log.length).toBeGreaterThan(0);
  expect(log).not.toContain(TEST_PASSWORD);
  expect(log).not.toContain(root.accessToken);
  expect(log).not.toContain(root.refreshToken.split(".")[1] ?? "never");
});

describe("devices", () => {
  test("a sign-in from a new browser is recorded, audited and listed", async () => {
    const before = await t.database.rawSql(
      "select count(*)::int as n from audit_log where action = 'auth.new_device'",
    );
    const { accessToken } = await signIn();
    const after = await t.database.rawSql(
      "select count(*)::int as n from audit_log where action = 'auth.new_device'",
    );
    expect(Number(after[0]?.n)).toBe(Number(before[0]?.n) + 1);
    const res = await t.app.request("/api/v1/auth/devices", { headers: bearer(accessToken) });
    const { devices } = await res.json() as { devices: { id: string }[] };
    expect(devices.length).toBeGreaterThan(0);
  });

  test("the same browser (device cookie) is recognised on the next sign-in", async () => {
    const first = await postJson(t, "/api/v1/auth/login", {
      email: "root@example.com",
      password: TEST_PASSWORD,
    }, { "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0" });
    const cookie = (first.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    const count = async () =>
      Number((await t.database.rawSql("select count(*)::int as n from devices"))[0]?.n);
    const before = await count();
    const again = await postJson(t, "/api/v1/auth/login", {
      email: "root@example.com",
      password: TEST_PASSWORD,
    }, {
      "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/134.0",
      cookie,
      origin: "http://localhost",
    });
    expect(again.status).toBe(200);
    expect(await count()).toBe(before);
  });

  test("forgetting another user's device is a 404 and leaves it in place", async () => {
    await t.deps.database.db.transaction((tx) =>
      createUser(tx, { actor: { kind: "system" } }, {
        email: "other@example.com",
        password: TEST_PASSWORD,
        isSuperuser: false,
      })
    );
    const other = await signIn("other@example.com");
    const listed = await t.app.request("/api/v1/auth/devices", {
      headers: bearer(other.accessToken),
    });
    const [device] = ((await listed.json()) as { devices: { id: string }[] }).devices;
    const { accessToken } = await signIn();
    const res = await t.app.request(`/api/v1/auth/devices/${device?.id}`, {
      method: "DELETE",
      headers: bearer(accessToken),
    });
    expect(res.status).toBe(404);
    const still = await t.app.request("/api/v1/auth/devices", {
      headers: bearer(other.accessToken),
    });
    expect(((await still.json()) as { devices: unknown[] }).devices).toHaveLength(1);
  });
});

describe("form posts under no-referrer", () => {
  test("Origin null is accepted only with Sec-Fetch-Site: same-origin", async () => {
    const cookie = `__Host-caddis_access=${root.accessToken}`;
    const sameOrigin = await t.app.request("/api/v1/auth/refresh", {
      method: "POST",
      headers: { cookie, origin: "null", "sec-fetch-site": "same-origin" },
    });
    expect(sameOrigin.status).toBe(401);
    for (const site of ["cross-site", "same-site", "none"]) {
      const res = await t.app.request("/api/v1/auth/refresh", {
        method: "POST",
        headers: { cookie, origin: "null", "sec-fetch-site": site },
      });
      expect(res.status).toBe(403);
    }
  });
});
