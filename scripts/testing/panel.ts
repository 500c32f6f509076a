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
