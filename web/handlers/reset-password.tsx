/** @jsxImportSource hono/jsx */
import { publicRoute } from "../../api/auth/route-access.ts";
import { Hono } from "hono";
import type { AppDeps, AppEnv } from "../../api/deps.ts";
import { auditContextOf } from "../../api/request-context.ts";
import { completePasswordReset } from "../../api/services/password-reset.ts";
import { PasswordResetInput } from "../../api/services/user-admin-inputs.ts";
import { fieldErrorsOf, parseForm, readForm } from "../forms.ts";
import { MessagePage } from "../pages/message.tsx";
import { ResetPasswordPage } from "../pages/reset-password.tsx";

const SIGN_IN = { href: "/login", label: "Go to sign in" };
const NO_TOKEN = "This page needs the reset link an administrator gave you.";

/** `/reset-password`: sets a new password from an admin-issued link; never signs anyone in. */
export function resetPasswordPages(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();

  routes.get("/reset-password", publicRoute, (c) => {
    const token = c.req.query("token");
    if (!token) {
      return c.html(<MessagePage title="Reset link needed" message={NO_TOKEN} />, 400);
    }
    return c.html(<ResetPasswordPage token={token} />);
  });

  routes.post("/reset-password", publicRoute, async (c) => {
    const form = await readForm(c);
    const token = form.token ?? "";
    const parsed = parseForm(PasswordResetInput, form, ["token", "newPassword"]);
    if (!parsed.ok) {
      if (parsed.fields.token) {
        return c.html(<MessagePage title="Reset link needed" message={NO_TOKEN} />, 400);
      }
      return c.html(<ResetPasswordPage token={token} errors={parsed.fields} />, 400);
    }
    try {
      await completePasswordReset(deps, auditContextOf(c), parsed.data);
    } catch (err) {
      const fields = fieldErrorsOf(err);
      if (!fields) throw err;
      if (fields.token) {
        return c.html(
          <MessagePage title="Reset link not valid" message={fields.token} link={SIGN_IN} />,
          400,
        );
      }
      return c.html(<ResetPasswordPage token={token} errors={fields} />, 400);
    }
    return c.html(
      <MessagePage
        title="Password changed"
        message="Your new password is set and every session was signed out. Sign in with it now."
        link={SIGN_IN}
      />,
    );
  });

  return routes;
}
