import { type Context, Hono } from "hono";
import { requireAuth } from "../auth/authenticate.ts";
import { publicRoute, signedIn } from "../auth/route-access.ts";
import {
  clearSessionCookies,
  DEVICE_COOKIE,
  readCookie,
  REFRESH_COOKIE,
  setDeviceCookie,
  setSessionCookies,
} from "../auth/cookies.ts";
import type { AppDeps, AppEnv } from "../deps.ts";
import { AppError } from "../errors.ts";
import { auditContextOf } from "../request-context.ts";
import { LoginInput, MfaVerifyInput, RefreshInput } from "../services/auth-inputs.ts";
import { login, type LoginResult } from "../services/auth-login.ts";
import { completeMfa, type MfaResult } from "../services/auth-mfa.ts";
import {
  listSessions,
  logout,
  logoutWithRefreshToken,
  refresh,
  revokeOtherSessions,
  revokeOwnSession,
} from "../services/auth-sessions.ts";
import type { IssuedTokens } from "../services/auth-tokens.ts";
import { validate } from "../validate.ts";

const INVALID_LOGIN = "Email or password is incorrect";

/** The JSON body API clients get; browsers get the same tokens as cookies from the pages. */
export function tokenBody(tokens: IssuedTokens) {
  const { accessToken, refreshToken, expiresIn, tokenType } = tokens;
  return { accessToken, refreshToken, expiresIn, tokenType };
}

function throttled(retryAfterSeconds: number): never {
  throw new AppError(
    "rate_limited",
    `Too many failed sign-in attempts; try again in ${retryAfterSeconds} s`,
    undefined,
    retryAfterSeconds,
  );
}

/** Maps a login or 2FA-step result to its JSON response (the pages map the same results to HTML). */
function loginResponse(c: Context<AppEnv>, result: LoginResult | MfaResult) {
  switch (result.kind) {
    case "signed_in":
      setDeviceCookie(c, result.deviceToken);
      return c.json(tokenBody(result.tokens));
    case "mfa_required":
      return c.json({
        mfaRequired: true,
        mfaToken: result.mfaToken,
        expiresIn: result.expiresInSeconds,
      });
    case "invalid":
      throw new AppError("unauthenticated", INVALID_LOGIN);
    case "invalid_token":
      throw new AppError(
        "unauthenticated",
        "The sign-in attempt expired or is invalid; sign in again",
      );
    case "wrong_code":
      throw new AppError(
        "unauthenticated",
        `The code is not valid; ${result.attemptsLeft} attempt(s) left`,
      );
    case "throttled":
      return throttled(result.retryAfterSeconds);
  }
}

/** `/api/v1/auth/*`: sign-in, tokens and the caller's sessions. */
export function authRoutes(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();

  routes.post("/login", publicRoute, validate("json", LoginInput), async (c) => {
    const client = { audit: auditContextOf(c), deviceToken: readCookie(c, DEVICE_COOKIE) };
    return loginResponse(c, await login(deps, client, c.req.valid("json")));
  });

  routes.post("/2fa/verify", publicRoute, validate("json", MfaVerifyInput), async (c) => {
    const client = { audit: auditContextOf(c), deviceToken: readCookie(c, DEVICE_COOKIE) };
    return loginResponse(c, await completeMfa(deps, client, c.req.valid("json")));
  });

  routes.post("/refresh", publicRoute, async (c) => {
    // Browsers hold the refresh token in a cookie limited to this path; API clients send it.
    const fromCookie = readCookie(c, REFRESH_COOKIE);
    let token = fromCookie;
    if (!token) {
      const parsed = RefreshInput.safeParse(await c.req.json().catch(() => undefined));
      if (!parsed.success) {
        throw new AppError(
          "unauthenticated",
          "No refresh token: send {refreshToken} or the cookie",
        );
      }
      token = parsed.data.refreshToken;
    }
    const result = await refresh(deps, auditContextOf(c), token);
    if (result.kind === "rejected") {
      if (fromCookie) clearSessionCookies(c);
      const message = result.reason === "reused"
        ? "This refresh token was already used; the session has been signed out for safety"
        : `The refresh token is ${result.reason}; sign in again`;
      throw new AppError("unauthenticated", message);
    }
    if (fromCookie) {
      setSessionCookies(c, result.tokens);
      return c.json({ expiresIn: result.tokens.expiresIn });
    }
    return c.json(tokenBody(result.tokens));
  });

  routes.post("/refresh/logout", publicRoute, async (c) => {
    const token = readCookie(c, REFRESH_COOKIE) ??
      RefreshInput.safeParse(await c.req.json().catch(() => undefined)).data?.refreshToken;
    const audit = auditContextOf(c);
    const ended = token ? await logoutWithRefreshToken(deps, audit, token) : false;
    const auth = c.get("auth");
    if (!ended && auth) await logout(deps, audit, auth);
    clearSessionCookies(c);
    // The panel's sign-out button is a plain form post: send the browser to the login page.
    if (c.req.header("content-type")?.startsWith("application/x-www-form-urlencoded")) {
      return c.redirect("/login?notice=signed-out", 303);
    }
    return c.body(null, 204);
  });

  routes.post("/logout", signedIn, async (c) => {
    const auth = requireAuth(c);
    await logout(deps, auditContextOf(c), auth);
    clearSessionCookies(c);
    return c.body(null, 204);
  });

  routes.get("/me", signedIn, (c) => {
    const auth = requireAuth(c);
    return c.json({
      id: auth.userId,
      email: auth.email,
      isSuperuser: auth.isSuperuser,
      totpEnabled: auth.totpEnabled,
      sessionId: auth.sessionId,
      tenantIds: auth.tenantIds,
      activeTenantId: c.get("tenantId") ?? null,
    });
  });

  routes.get(
    "/sessions",
    signedIn,
    async (c) => c.json({ sessions: await listSessions(deps, requireAuth(c)) }),
  );

  routes.delete("/sessions/:id", signedIn, async (c) => {
    await revokeOwnSession(deps, auditContextOf(c), requireAuth(c), c.req.param("id"));
    return c.body(null, 204);
  });

  routes.post("/sessions/revoke-others", signedIn, async (c) => {
    const revoked = await revokeOtherSessions(deps, auditContextOf(c), requireAuth(c));
    return c.json({ revoked });
  });

  return routes;
}
