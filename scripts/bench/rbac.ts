// The authorisation figures of `npm run bench`: a tenant admin (not a superuser, so every request
// resolves role grants) listing members and searching the audit log, against /auth/me.
import { type LoadResult, runLoad } from "./autocannon.ts";
import type { ServerProcess } from "./server-process.ts";

const MEMBER_EMAIL = "bench-admin@example.com";
// Benchmark-only credentials for a throwaway data dir; not a secret anywhere.
const MEMBER_PASSWORD = "bench-harbour-violet-93";

async function call(server: ServerProcess, path: string, init: RequestInit): Promise<unknown> {
  const res = await fetch(`${server.url}${path}`, init);
  if (!res.ok) {
    throw new Error(`${init.method ?? "GET"} ${path}: ${res.status} ${await res.text()}`);
  }
  return res.status === 204 ? undefined : await res.json();
}

/**
 * Invites a tenant admin through the API (as the superuser whose token is given), accepts the
 * invitation and signs in; returns the admin's access token.
 */
export async function setupBenchAdmin(server: ServerProcess, rootToken: string): Promise<string> {
  const auth = { authorization: `Bearer ${rootToken}`, "content-type": "application/json" };
  const me = await call(server, "/api/v1/auth/me", { headers: auth }) as { activeTenantId: string };
  const invited = await call(server, `/api/v1/tenants/${me.activeTenantId}/invitations`, {
    method: "POST",
    headers: auth,
    body: JSON.stringify({ email: MEMBER_EMAIL, roles: ["role_admin"] }),
  }) as { link: string };
  const token = new URL(invited.link).searchParams.get("token");
  const json = { "content-type": "application/json" };
  await call(server, "/api/v1/invitations/accept", {
    method: "POST",
    headers: json,
    body: JSON.stringify({ token, password: MEMBER_PASSWORD }),
  });
  const login = await call(server, "/api/v1/auth/login", {
    method: "POST",
    headers: json,
    body: JSON.stringify({ email: MEMBER_EMAIL, password: MEMBER_PASSWORD }),
  }) as { accessToken: string };
  return login.accessToken;
}

/** Authenticated GET of `path` as the bench admin, under the same load as the baseline. */
export function loadAsAdmin(
  root: string,
  server: ServerProcess,
  token: string,
  path: string,
  seconds: number,
  connections: number,
): Promise<LoadResult> {
  return runLoad(root, `${server.url}${path}`, seconds, connections, {
    headers: { authorization: `Bearer ${token}` },
  });
}
