import type { Context, MiddlewareHandler } from "hono";
import { clientIp, type TrustedProxies } from "./client-ip.ts";
import type { AppDeps, AppEnv } from "./deps.ts";
import type { AuditContext } from "./services/audit.ts";

/**
 * Works out the client's address once per request: the socket peer, or, behind a trusted proxy,
 * the right-most untrusted `X-Forwarded-For` hop. Anyone else's forwarded headers are ignored.
 */
export function resolveClientIp(
  deps: AppDeps,
  trusted: TrustedProxies,
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    let peer: string | undefined;
    try {
      peer = deps.clientAddress(c);
    } catch {
      // `app.request()` in tests has no socket; the address is simply unknown.
      peer = undefined;
    }
    c.set("clientIp", clientIp(peer, c.req.header("x-forwarded-for"), trusted));
    await next();
  };
}

/** Who is acting and from where, for the audit rows this request writes. */
export function auditContextOf(c: Context<AppEnv>): AuditContext {
  const auth = c.get("auth");
  return {
    actor: auth?.token
      ? { kind: "api_token", id: auth.token.id }
      : auth
      ? { kind: "user", id: auth.userId }
      : { kind: "anonymous" },
    tenantId: c.get("tenantId"),
    ip: c.get("clientIp"),
    userAgent: c.req.header("user-agent")?.slice(0, 512),
    requestId: c.get("requestId"),
  };
}
