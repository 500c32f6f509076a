import type { MiddlewareHandler } from "hono";
import type { AppDeps, AppEnv } from "../deps.ts";
import { AppError } from "../errors.ts";
import { API_TOKEN_PREFIX } from "./api-token-check.ts";
import { ACCESS_COOKIE, readCookie } from "./cookies.ts";

const UNSAFE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * Verifies a bearer token or the access cookie against a live session, or a personal API token
 * (`cdt_…`) against its row, and puts the caller on the context. A missing or bad token leaves
 * the request anonymous; routes decide what that means.
 */
export function authenticate(deps: AppDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    c.set("auth", undefined);
    const header = c.req.header("authorization");
    const bearer = header?.startsWith("Bearer ") ? header.slice(7).trim() : undefined;
    const token = bearer ?? readCookie(c, ACCESS_COOKIE);
    if (bearer?.startsWith(API_TOKEN_PREFIX)) {
      // Personal API tokens are for the JSON API; the panel's pages are for people signed in.
      const auth = c.req.path.startsWith("/api/")
        ? await deps.validateApiToken(bearer, c.get("clientIp"), deps.now())
        : undefined;
      if (auth) c.set("auth", auth);
    } else if (token) {
      const now = deps.now();
      const claims = await deps.accessTokens.verify(token, now);
      const user = claims && (await deps.validateSession(claims.sid, claims.sub, now));
      if (user) c.set("auth", { ...user, via: bearer ? "bearer" : "cookie" });
    }
    await next();
  };
}

/**
 * Refuses cross-site form posts and fetches: an unsafe request that carries cookies must come
 * from a page of this origin. SameSite=Strict already stops most; this covers older browsers and
 * same-site subdomains.
 */
export function originCheck(deps: AppDeps): MiddlewareHandler<AppEnv> {
  const publicOrigin = new URL(deps.config.publicUrl).origin;
  return async (c, next) => {
    if (UNSAFE_METHODS.has(c.req.method) && c.req.header("cookie")) {
      const origin = c.req.header("origin");
      // The host the browser addressed (Caddy passes Host through); the scheme may differ
      // behind a TLS-terminating proxy, so only the host is compared.
      const host = new URL(c.req.url).host;
      let allowed = false;
      if (origin && origin !== "null") {
        try {
          const parsed = new URL(origin);
          allowed = parsed.origin === publicOrigin || parsed.host === host;
        } catch {
          allowed = false;
        }
      } else {
        // Under `Referrer-Policy: no-referrer` browsers send `Origin: null` on form posts. They
        // also send Sec-Fetch-Site, which pages cannot forge: same-origin proves the same thing.
        allowed = c.req.header("sec-fetch-site") === "same-origin";
      }
      if (!allowed) {
        throw new AppError(
          "forbidden",
          "Cross-origin request refused: Origin does not match this site",
        );
      }
    }
    await next();
  };
}

/** The authenticated caller, or a 401 for anonymous requests. */
export function requireAuth(c: { get(key: "auth"): AppEnv["Variables"]["auth"] }) {
  const auth = c.get("auth");
  if (!auth) {
    throw new AppError("unauthenticated", "Sign in first: this needs a valid access token");
  }
  return auth;
}
