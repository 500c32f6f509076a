import { Hono } from "hono";
import { EnrolRequest } from "../../agent/protocol/enrolment.ts";
import { publicRoute } from "../auth/route-access.ts";
import type { AppDeps, AppEnv } from "../deps.ts";
import { auditContextOf } from "../request-context.ts";
import { enrolHost } from "../services/host-enrolment.ts";
import { validate } from "../validate.ts";

/**
 * `POST /api/v1/agent/enroll`: an agent trades a one-time enrolment token for its host id. Public,
 * since the agent has no account; the token is the credential, and the `auth` rate-limit group
 * bounds guessing (see rate-limit.ts).
 */
export function agentEnrolRoutes(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();

  routes.post("/agent/enroll", publicRoute, validate("json", EnrolRequest), async (c) => {
    return c.json(await enrolHost(deps, auditContextOf(c), c.req.valid("json")));
  });

  return routes;
}
