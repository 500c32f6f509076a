import { afterAll, beforeAll, expect, test } from "bun:test";
import { LOGOUT_PATH } from "../api/auth/cookies.ts";
import { prepareSetup } from "../api/services/setup.ts";
import { createTestApp, type TestApp } from "../scripts/testing/app.ts";
import { TEST_PASSWORD } from "../scripts/testing/auth.ts";

// Every Set-Cookie Caddis sends, across setup, sign-in, refresh and sign-out, must be HttpOnly,
// Secure, SameSite=Strict and host-only; the refresh cookie must travel only to its endpoint.
let t: TestApp;
const seen: string[] = [];

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

function form(path: string, fields: Record<string, string>, cookie = "") {
  return t.app.request(path, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      origin: "http://localhost",
      ...(cookie ? { cookie } : {}),
    },
    body: new URLSearchParams(fields).toString(),
  });
}

function collect(res: Response): string {
  const cookies = res.headers.getSetCookie();
  seen.push(...cookies);
  return cookies.map((c) => c.split(";")[0]).join("; ");
}

test("every cookie set on the way through a session has the safe attributes", async () => {
  const url = await prepareSetup(t.deps);
  const token = new URL(url ?? "").searchParams.get("token") ?? "";
  collect(
    await form("/setup", {
      token,
      email: "root@example.com",
      password: TEST_PASSWORD,
      tenantName: "Acme",
    }),
  );
  const jar = collect(await form("/login", { email: "root@example.com", password: TEST_PASSWORD }));
  const refreshed = await t.app.request("/api/v1/auth/refresh", {
    method: "POST",
    headers: { cookie: jar, origin: "http://localhost" },
  });
  expect(refreshed.status).toBe(200);
  const renewed = collect(refreshed);
  const out = await form(LOGOUT_PATH, {}, renewed);
  expect(out.status).toBe(303);
  collect(out);

  const names = new Set(seen.map((c) => c.split("=")[0]));
  expect([...names].sort()).toEqual([
    "__Host-caddis_access",
    "__Host-caddis_device",
    "__Secure-caddis_refresh",
  ]);
  for (const cookie of seen) {
    const attributes = cookie.split(";").slice(1).map((a) => a.trim().toLowerCase());
    expect(attributes).toContain("httponly");
    expect(attributes).toContain("secure");
    expect(attributes).toContain("samesite=strict");
    expect(attributes.some((a) => a.startsWith("domain="))).toBe(false);
    const path = attributes.find((a) => a.startsWith("path="));
    expect(path).toBe(
      cookie.startsWith("__Secure-caddis_refresh") ? "path=/api/v1/auth/refresh" : "path=/",
    );
  }
});
