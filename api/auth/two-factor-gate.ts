import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../deps.ts";
import { AppError } from "../errors.ts";

// What a user who must enrol in 2FA can still reach: their own account (enrolment, password,
// sessions, devices) in the API and the panel, signing in and out, and the public pages.
const ENROLMENT_PATHS = [
  /^\/api\/v1\/auth\//,
  /^\/account(\/.*)?$/,
  /^\/(login|login\/2fa|logout|setup|reset-password|invite|status|healthz|readyz)?$/,
  /^\/static\//,
];

/**
 * Holds members of a tenant that requires 2FA at enrolment: until they turn it on, pages send
 * them to their account page and the API answers 403 with directions.
 */
export function twoFactorGate(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const auth = c.get("auth");
    if (auth?.mustEnrolTotp && !ENROLMENT_PATHS.some((p) => p.test(c.req.path))) {
      if (c.req.method === "GET" && !c.req.path.startsWith("/api/")) {
        return c.redirect("/account", 303);
      }
      throw new AppError(
        "forbidden",
        "Your organisation requires two-factor authentication: enable it on your account page first",
      );
    }
    await next();
  };
}
