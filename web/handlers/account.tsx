/** @jsxImportSource hono/jsx */
import { Hono } from "hono";
import { requireAuth } from "../../api/auth/authenticate.ts";
import type { AppDeps, AppEnv } from "../../api/deps.ts";
import { auditContextOf } from "../../api/request-context.ts";
import { changePassword } from "../../api/services/account.ts";
import { ChangePasswordInput } from "../../api/services/auth-inputs.ts";
import type { FlashMessage } from "../components.tsx";
import { fieldErrorsOf, parseForm, readForm } from "../forms.ts";
import { renderAccount } from "./account-render.tsx";

/**
 * One-line confirmations a redirect back to `/account?notice=…` shows. Only these keys exist, so
 * a crafted link cannot put its own words on the page.
 */
export const ACCOUNT_NOTICES = {
  "password-changed": "Password changed; other sessions were signed out",
  "2fa-disabled": "Two-factor authentication is off",
  "session-revoked": "The session was signed out",
  "sessions-revoked": "All other sessions were signed out",
  "device-forgotten": "Device forgotten; its next sign-in will count as a new device",
} as const;

/** One of the {@link ACCOUNT_NOTICES} keys. */
export type AccountNotice = keyof typeof ACCOUNT_NOTICES;

function noticeFlash(key: string | undefined): FlashMessage[] {
  const text = key && Object.hasOwn(ACCOUNT_NOTICES, key)
    ? ACCOUNT_NOTICES[key as AccountNotice]
    : undefined;
  return text ? [{ kind: "success", text }] : [];
}

/** `GET /account` and the password form; the routes file guards them with requireSignedIn. */
export function accountPages(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();

  routes.get(
    "/account",
    (c) => renderAccount(c, deps, requireAuth(c), { flash: noticeFlash(c.req.query("notice")) }),
  );

  routes.post("/account/password", async (c) => {
    const auth = requireAuth(c);
    const form = await readForm(c);
    const parsed = parseForm(ChangePasswordInput, form, ["currentPassword", "newPassword"]);
    if (!parsed.ok) {
      return renderAccount(c, deps, auth, { errors: { password: parsed.fields }, status: 400 });
    }
    try {
      await changePassword(deps, auditContextOf(c), auth, parsed.data);
    } catch (err) {
      // The policy check names the field `password`; on this form it is the new one.
      const fields = fieldErrorsOf(err, { password: "newPassword" });
      if (!fields) throw err;
      return renderAccount(c, deps, auth, { errors: { password: fields }, status: 400 });
    }
    return c.redirect("/account?notice=password-changed", 303);
  });

  return routes;
}
