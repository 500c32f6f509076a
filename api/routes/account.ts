import { Hono } from "hono";
import { requireAuth } from "../auth/authenticate.ts";
import { signedIn } from "../auth/route-access.ts";
import type { AppDeps, AppEnv } from "../deps.ts";
import { auditContextOf } from "../request-context.ts";
import {
  beginTotpSetup,
  changePassword,
  disableTotp,
  enableTotp,
  forgetOwnDevice,
  listOwnDevices,
  regenerateBackupCodes,
  totpStatus,
} from "../services/account.ts";
import {
  ChangePasswordInput,
  DisableTotpInput,
  EnableTotpInput,
  RegenerateBackupCodesInput,
} from "../services/auth-inputs.ts";
import { validate } from "../validate.ts";

/** `/api/v1/auth/…` routes that manage the caller's own credentials and second factor. */
export function accountRoutes(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();

  routes.post("/password", signedIn, validate("json", ChangePasswordInput), async (c) => {
    await changePassword(deps, auditContextOf(c), requireAuth(c), c.req.valid("json"));
    return c.body(null, 204);
  });

  routes.get("/2fa", signedIn, async (c) => c.json(await totpStatus(deps, requireAuth(c))));

  routes.post(
    "/2fa/setup",
    signedIn,
    async (c) => c.json(await beginTotpSetup(deps, requireAuth(c))),
  );

  routes.post("/2fa/enable", signedIn, validate("json", EnableTotpInput), async (c) => {
    const { code } = c.req.valid("json");
    return c.json(await enableTotp(deps, auditContextOf(c), requireAuth(c), code));
  });

  routes.post("/2fa/disable", signedIn, validate("json", DisableTotpInput), async (c) => {
    await disableTotp(deps, auditContextOf(c), requireAuth(c), c.req.valid("json"));
    return c.body(null, 204);
  });

  routes.post(
    "/2fa/backup-codes",
    signedIn,
    validate("json", RegenerateBackupCodesInput),
    async (c) => {
      const { password } = c.req.valid("json");
      return c.json(await regenerateBackupCodes(deps, auditContextOf(c), requireAuth(c), password));
    },
  );

  routes.get(
    "/devices",
    signedIn,
    async (c) => c.json({ devices: await listOwnDevices(deps, requireAuth(c)) }),
  );

  routes.delete("/devices/:id", signedIn, async (c) => {
    await forgetOwnDevice(deps, auditContextOf(c), requireAuth(c), c.req.param("id"));
    return c.body(null, 204);
  });

  return routes;
}
