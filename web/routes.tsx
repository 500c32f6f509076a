/** @jsxImportSource hono/jsx */
import { publicRoute } from "../api/auth/route-access.ts";
import { Hono } from "hono";
import type { AppDeps, AppEnv } from "../api/deps.ts";
import { statusReport } from "../api/services/status.ts";
import { assets, STATIC_ROOT } from "./assets.ts";
import { accountPages } from "./handlers/account.tsx";
import { twoFactorPages } from "./handlers/account-2fa.tsx";
import { sessionPages } from "./handlers/account-sessions.tsx";
import { accountTokensPages } from "./handlers/account-tokens.tsx";
import { auditPages } from "./handlers/audit.tsx";
import { dashboardPages } from "./handlers/dashboard.tsx";
import { hostsPages } from "./handlers/hosts.tsx";
import { invitationsPages } from "./handlers/invitations.tsx";
import { membersPages } from "./handlers/members.tsx";
import { rolesPages } from "./handlers/roles.tsx";
import { tenantsPages } from "./handlers/tenants.tsx";
import { loginPages } from "./handlers/login.tsx";
import { resetPasswordPages } from "./handlers/reset-password.tsx";
import { setupPages } from "./handlers/setup.tsx";
import { sitesPages } from "./handlers/sites.tsx";
import { requireSignedIn } from "./page-auth.tsx";
import { loadPageUser, pageUserOf } from "./page-user.ts";
import { StatusPage } from "./pages/status.tsx";

const STATIC_PREFIX = "/static/";

/** The htmx web panel: pages and static assets. */
export function webRoutes(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();

  // `use`, not `get`: a file that is not there falls through to the app's JSON 404, and the
  // not-found handler does not mistake a catch-all GET for "this path exists, wrong method".
  routes.use(
    `${STATIC_PREFIX}*`,
    deps.serveStatic({
      root: STATIC_ROOT,
      rewriteRequestPath: (path) => path.slice(STATIC_PREFIX.length - 1),
      onFound: (_path, c) => {
        const file = c.req.path.slice(STATIC_PREFIX.length);
        // Only the exact content version may be cached forever; any other URL must revalidate,
        // or a stale `?v=` could pin an old file in a browser for a year.
        c.header(
          "Cache-Control",
          assets.isCurrent(file, c.req.query("v"))
            ? "public, max-age=31536000, immutable"
            : "no-cache",
        );
      },
    }),
  );

  // After static files, so they cost nothing; the middleware itself skips the JSON API.
  routes.use("*", loadPageUser(deps));

  routes.route("/", dashboardPages(deps));

  routes.get("/status", publicRoute, async (c) => {
    const report = await statusReport(deps);
    return c.html(<StatusPage report={report} user={pageUserOf(c)} />, report.ready ? 200 : 503);
  });

  routes.route("/", setupPages(deps));
  routes.route("/", resetPasswordPages(deps));
  routes.route("/", loginPages(deps));

  // Every account page and action needs a signed-in user; posts return to the account page.
  routes.use("/account", requireSignedIn("/account"));
  routes.use("/account/*", requireSignedIn("/account"));
  routes.route("/", accountPages(deps));
  routes.route("/", twoFactorPages(deps));
  routes.route("/", sessionPages(deps));
  routes.route("/", accountTokensPages(deps));
  routes.route("/", auditPages(deps));
  routes.route("/", membersPages(deps));
  routes.route("/", rolesPages(deps));
  routes.route("/", invitationsPages(deps));
  routes.route("/", tenantsPages(deps));
  routes.route("/", hostsPages(deps));
  routes.route("/", sitesPages(deps));

  return routes;
}
