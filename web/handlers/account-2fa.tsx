/** @jsxImportSource hono/jsx */
import { Hono } from "hono";
import { requireAuth } from "../../api/auth/authenticate.ts";
import type { AppDeps, AppEnv } from "../../api/deps.ts";
import { AppError } from "../../api/errors.ts";
import { auditContextOf } from "../../api/request-context.ts";
import {
  beginTotpSetup,
  disableTotp,
  enableTotp,
  regenerateBackupCodes,
} from "../../api/services/account.ts";
import {
  DisableTotpInput,
  EnableTotpInput,
  RegenerateBackupCodesInput,
} from "../../api/services/auth-inputs.ts";
import { fieldErrorsOf, parseForm, readForm } from "../forms.ts";
import { requirePageUser } from "../page-user.ts";
import { BackupCodesPage, TotpSetupPage } from "../pages/two-factor-setup.tsx";
import { renderAccount } from "./account-render.tsx";

/** A `conflict` (2FA already on, or not on) is a stale page: show the account page as it is now. */
function isConflict(err: unknown): err is AppError {
  return err instanceof AppError && err.code === "conflict";
}

/**
 * `/account/2fa/*`: enrolment, backup codes and turning 2FA off. Secrets (the new key, backup
 * codes) appear only in the answer to the POST that made them, never in a URL to redirect to.
 */
export function twoFactorPages(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();

  routes.post("/account/2fa/setup", async (c) => {
    const auth = requireAuth(c);
    try {
      const { secret, qrSvg } = await beginTotpSetup(deps, auth);
      return c.html(
        <TotpSetupPage user={requirePageUser(c)} enrolment={{ manualKey: secret, qrSvg }} />,
      );
    } catch (err) {
      if (!isConflict(err)) throw err;
      return renderAccount(c, deps, auth, { flash: [{ kind: "info", text: err.message }] });
    }
  });

  routes.post("/account/2fa/enable", async (c) => {
    const auth = requireAuth(c);
    const parsed = parseForm(EnableTotpInput, await readForm(c), ["code"]);
    if (!parsed.ok) {
      return c.html(<TotpSetupPage user={requirePageUser(c)} errors={parsed.fields} />, 400);
    }
    try {
      const { backupCodes } = await enableTotp(deps, auditContextOf(c), auth, parsed.data.code);
      return c.html(<BackupCodesPage user={requirePageUser(c)} codes={backupCodes} enabled />);
    } catch (err) {
      if (isConflict(err)) {
        return renderAccount(c, deps, auth, { flash: [{ kind: "info", text: err.message }] });
      }
      const fields = fieldErrorsOf(err);
      if (!fields) throw err;
      return c.html(<TotpSetupPage user={requirePageUser(c)} errors={fields} />, 400);
    }
  });

  routes.post("/account/2fa/backup-codes", async (c) => {
    const auth = requireAuth(c);
    const parsed = parseForm(RegenerateBackupCodesInput, await readForm(c), ["password"]);
    if (!parsed.ok) {
      return renderAccount(c, deps, auth, { errors: { regenerate: parsed.fields }, status: 400 });
    }
    try {
      const { password } = parsed.data;
      const { backupCodes } = await regenerateBackupCodes(deps, auditContextOf(c), auth, password);
      return c.html(
        <BackupCodesPage user={requirePageUser(c)} codes={backupCodes} enabled={false} />,
      );
    } catch (err) {
      if (isConflict(err)) {
        return renderAccount(c, deps, auth, { flash: [{ kind: "info", text: err.message }] });
      }
      const fields = fieldErrorsOf(err);
      if (!fields) throw err;
      return renderAccount(c, deps, auth, { errors: { regenerate: fields }, status: 400 });
    }
  });

  routes.post("/account/2fa/disable", async (c) => {
    const auth = requireAuth(c);
    const parsed = parseForm(DisableTotpInput, await readForm(c), ["password", "code"]);
    if (!parsed.ok) {
      return renderAccount(c, deps, auth, { errors: { disable: parsed.fields }, status: 400 });
    }
    try {
      await disableTotp(deps, auditContextOf(c), auth, parsed.data);
    } catch (err) {
      if (isConflict(err)) {
        return renderAccount(c, deps, auth, { flash: [{ kind: "info", text: err.message }] });
      }
      const fields = fieldErrorsOf(err);
      if (!fields) throw err;
      return renderAccount(c, deps, auth, { errors: { disable: fields }, status: 400 });
    }
    return c.redirect("/account?notice=2fa-disabled", 303);
  });

  return routes;
}
