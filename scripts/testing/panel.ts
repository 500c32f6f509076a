import { expect } from "bun:test";
import type { TestApp } from "./app.ts";
import { TEST_PASSWORD } from "./auth.ts";

/** Signs in through the login page and returns the cookies a browser would send back. */
export async function panelSignIn(t: TestApp, email: string): Promise<string> {
  const res = await t.app.request("/login", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ email, password: TEST_PASSWORD }).toString(),
  });
  if (res.status !== 303) throw new Error(`sign-in failed: ${res.status}`);
  return res.headers.getSetCookie()
    .map((c) => c.split(";")[0] ?? "")
    .filter((c) => !c.startsWith("__Secure-caddis_refresh="))
    .join("; ");
}

/** The origin the test app serves pages from, which its form posts must carry. */
const ORIGIN = "http://localhost";

/** A page request as a browser sends it: with its cookies, or none when signed out. */
export function pageGet(
  t: TestApp,
  cookie: string | undefined,
  path: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  return Promise.resolve(
    t.app.request(path, { headers: { ...(cookie ? { cookie } : {}), ...headers } }),
  );
}

/** A page's HTML, after checking it answered with `status`. */
export async function pageText(
  t: TestApp,
  cookie: string,
  path: string,
  status = 200,
): Promise<string> {
  const res = await pageGet(t, cookie, path);
  expect(res.status).toBe(status);
  return await res.text();
}

/**
 * A form post as a browser sends it: `fields` may repeat a name, as a checkbox group does; a
 * signed-in browser sends its cookies and `origin`, a signed-out one neither.
 */
export function formPost(
  t: TestApp,
  cookie: string | undefined,
  path: string,
  fields: [string, string][] | Record<string, string> = [],
  origin = ORIGIN,
): Promise<Response> {
  return Promise.resolve(t.app.request(path, {
    method: "POST",
    headers: {
      ...(cookie ? { cookie, origin } : {}),
      "content-type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams(fields).toString(),
  }));
}
