import { Hono } from "hono";
import { AGENT_SOCKET_PATH } from "../../agent/protocol/enrolment.ts";
import { publicRoute } from "../auth/route-access.ts";
import type { AppDeps, AppEnv } from "../deps.ts";
import { AppError, errorBody } from "../errors.ts";

const PATH = AGENT_SOCKET_PATH.replace(/^\/api\/v1/, "");

/**
 * `GET /api/v1/agent/ws`, the socket agents dial. Public at the HTTP level: the socket proves the
 * host by a signed challenge before anything else flows (see api/hub/agent-connection.ts).
 */
export function agentSocketRoutes(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  const upgrade = deps.upgradeWebSocket;
  if (!upgrade) {
    routes.get(PATH, publicRoute, (c) => {
      const err = new AppError(
        "unavailable",
        "This API process cannot accept agent sockets: its runtime adapter has no WebSocket upgrade",
      );
      return c.json(errorBody(err, c.get("requestId")), 501);
    });
    return routes;
  }
  routes.get(
    PATH,
    publicRoute,
    upgrade((c) => deps.agentHub.accept({ ip: c.get("clientIp") })),
    // Reached only when the request was not a WebSocket upgrade.
    () => {
      throw new AppError(
        "bad_request",
        "This endpoint only accepts WebSocket upgrades from agents",
      );
    },
  );
  return routes;
}
