import { publicRoute } from "../auth/route-access.ts";
import { Hono } from "hono";
import { DEVICE_COOKIE, readCookie, setDeviceCookie } from "../auth/cookies.ts";
import type { AppDeps, AppEnv } from "../deps.ts";
import { auditContextOf } from "../request-context.ts";
import { SetupInput } from "../services/auth-inputs.ts";
import { completeSetup } from "../services/setup.ts";
import { validate } from "../validate.ts";
import { tokenBody } from "./auth.ts";

/** `POST /api/v1/setup`: first-run creation of the superuser and tenant, answered like a login. */
export function setupRoutes(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  routes.post("/setup", publicRoute, validate("json", SetupInput), async (c) => {
    const deviceCookie = readCookie(c, DEVICE_COOKIE);
    const result = await completeSetup(deps, auditContextOf(c), c.req.valid("json"), deviceCookie);
    setDeviceCookie(c, result.deviceToken);
    return c.json(tokenBody(result.tokens), 201);
  });
  return routes;
}
