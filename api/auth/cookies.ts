import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { ACCESS_TOKEN_TTL_SECONDS } from "./jwt.ts";

/** Access cookie: `__Host-` pins it to this exact origin, Path `/`, no Domain. */
export const ACCESS_COOKIE = "__Host-caddis_access";
/** Refresh cookie: `__Secure-`, sent only to the refresh endpoint so it travels nowhere else. */
export const REFRESH_COOKIE = "__Secure-caddis_refresh";
/** The endpoint the refresh cookie is limited to. */
export const REFRESH_PATH = "/api/v1/auth/refresh";
/**
 * Where browsers sign out: under the refresh path, so the refresh cookie comes along and the
 * session can be ended even when the access cookie has already expired.
 */
export const LOGOUT_PATH = `${REFRESH_PATH}/logout`;
/** Long-lived, random per browser: lets a sign-in from a new device be noticed. */
export const DEVICE_COOKIE = "__Host-caddis_device";
/**
 * The tenant a browser last switched to: browsers cannot send `X-Caddis-Tenant` on a plain
 * navigation. Only a preference: active-tenant.ts honours it only where the user may act.
 */
export const TENANT_COOKIE = "__Host-caddis_tenant";

const DEVICE_COOKIE_MAX_AGE = 400 * 24 * 60 * 60;
// Outlives a browser restart, as the refresh cookie does; sign-out removes it sooner.
const TENANT_COOKIE_MAX_AGE = 30 * 24 * 60 * 60;

const BASE = { httpOnly: true, secure: true, sameSite: "Strict" } as const;

/** Sets both session cookies after a sign-in or a refresh. */
export function setSessionCookies(
  c: Context,
  tokens: { accessToken: string; refreshToken: string; refreshExpiresAt: Date },
): void {
  setCookie(c, ACCESS_COOKIE, tokens.accessToken, {
    ...BASE,
    path: "/",
    maxAge: ACCESS_TOKEN_TTL_SECONDS,
  });
  setCookie(c, REFRESH_COOKIE, tokens.refreshToken, {
    ...BASE,
    path: REFRESH_PATH,
    expires: tokens.refreshExpiresAt,
  });
}

/** Removes the session cookies (sign-out, or a refresh that failed), and the tenant choice. */
export function clearSessionCookies(c: Context): void {
  deleteCookie(c, ACCESS_COOKIE, { ...BASE, path: "/" });
  deleteCookie(c, REFRESH_COOKIE, { ...BASE, path: REFRESH_PATH });
  // Only when sent: the next person to sign in on this browser should start in their own default.
  if (getCookie(c, TENANT_COOKIE) !== undefined) clearTenantCookie(c);
}

/** Remembers the tenant this browser acts in. */
export function setTenantCookie(c: Context, tenantId: string): void {
  setCookie(c, TENANT_COOKIE, tenantId, { ...BASE, path: "/", maxAge: TENANT_COOKIE_MAX_AGE });
}

/** Forgets the browser's tenant choice. */
export function clearTenantCookie(c: Context): void {
  deleteCookie(c, TENANT_COOKIE, { ...BASE, path: "/" });
}

/** Remembers this browser as a device of the user's. */
export function setDeviceCookie(c: Context, deviceToken: string): void {
  setCookie(c, DEVICE_COOKIE, deviceToken, { ...BASE, path: "/", maxAge: DEVICE_COOKIE_MAX_AGE });
}

/** Reads one cookie by name. */
export function readCookie(c: Context, name: string): string | undefined {
  return getCookie(c, name);
}
