import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../deps.ts";
import { AppError } from "../errors.ts";

// What a user who must enrol in 2FA can still reach: enrolment itself, who they are, signing out,
// token refresh, and the account page (plus static files) to do it from.
const ENROLMENT_PATHS = [
  /^\/api\/v1\/auth\/(me|logout|refresh|2fa|2fa\/setup|2fa\/enable)$/,
  /^\/(account|logout|status|static\/.*)$/,
  /^\/account\/2fa(\/.*)?$/,
  /^\/(healthz|readyz)$/,
];

/**
 * Holds members of a tenant that requires 2FA at enrolment: until they turn it on, everything
 * else answers 403 with directions.
 */
export function twoFactorGate(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const auth = c.get("auth");
    if (auth?.mustEnrolTotp && !ENROLMENT_PATHS.some((p) => p.test(c.req.path))) {
      throw new AppError(
        "forbidden",
        "Your organisation requires two-factor authentication: enable it on your account page first",
      );
    }
    await next();
  };
}
