import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { requestId } from "hono/request-id";
import { webRoutes } from "../web/routes.tsx";
import { activeTenant } from "./auth/active-tenant.ts";
import { authenticate, originCheck } from "./auth/authenticate.ts";
import { twoFactorGate } from "./auth/two-factor-gate.ts";
import type { AppDeps, AppEnv } from "./deps.ts";
import { rateLimit } from "./rate-limit.ts";
import { handleError, handleNotFound } from "./error-handler.ts";
import { AppError } from "./errors.ts";
import { requestLog, securityHeaders } from "./middleware.ts";
import { resolveClientIp } from "./request-context.ts";
import { accountRoutes } from "./routes/account.ts";
import { agentSocketRoutes } from "./routes/agent-ws.ts";
import { agentEnrolRoutes } from "./routes/agent-enrol.ts";
import { apiTokensRoutes } from "./routes/api-tokens.ts";
import { auditRoutes } from "./routes/audit.ts";
import { authRoutes } from "./routes/auth.ts";
import { healthRoutes } from "./routes/health.ts";
import { hostsRoutes } from "./routes/hosts.ts";
import { sitesRoutes } from "./routes/sites.ts";
import { invitationsRoutes } from "./routes/invitations.ts";
import { membersRoutes } from "./routes/members.ts";
import { rolesRoutes } from "./routes/roles.ts";
import { setupRoutes } from "./routes/setup.ts";
import { tenantRoutes } from "./routes/tenants.ts";
import { usersRoutes } from "./routes/users.ts";
import { statusRoutes } from "./routes/status.ts";

/** Builds the whole HTTP app (JSON API, web panel, static files) from injected dependencies. */
export function createApp(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.use(requestId({ headerName: "X-Request-Id", limitLength: 128 }));
  app.use(securityHeaders());
  app.use(requestLog(deps.log));
  app.use(
    bodyLimit({
      maxSize: deps.config.bodyLimitBytes,
      onError: () => {
        throw new AppError(
          "payload_too_large",
          `Request body is larger than ${deps.config.bodyLimitBytes} bytes`,
        );
      },
    }),
  );

  app.use(resolveClientIp(deps, deps.config.trustedProxies));
  app.use(authenticate(deps));
  app.use(rateLimit(deps));
  app.use(originCheck(deps));
  app.use(activeTenant(deps));
  app.use(twoFactorGate());

  app.route("/", healthRoutes(deps));
  app.route("/api/v1", statusRoutes(deps));
  app.route("/api/v1", setupRoutes(deps));
  app.route("/api/v1/auth", authRoutes(deps));
  app.route("/api/v1/auth", accountRoutes(deps));
  app.route("/api/v1", tenantRoutes(deps));
  app.route("/api/v1", usersRoutes(deps));
  app.route("/api/v1", auditRoutes(deps));
  app.route("/api/v1", rolesRoutes(deps));
  app.route("/api/v1", membersRoutes(deps));
  app.route("/api/v1", invitationsRoutes(deps));
  app.route("/api/v1", apiTokensRoutes(deps));
  app.route("/api/v1", agentSocketRoutes(deps));
  app.route("/api/v1", hostsRoutes(deps));
  app.route("/api/v1", sitesRoutes(deps));
  app.route("/api/v1", agentEnrolRoutes(deps));
  app.route("/", webRoutes(deps));

  app.onError(handleError(deps.log));
  app.notFound(handleNotFound(app));
  return app;
}
