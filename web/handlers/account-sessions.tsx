/** @jsxImportSource hono/jsx */
import { type Context, Hono } from "hono";
import { requireAuth } from "../../api/auth/authenticate.ts";
import { clearSessionCookies } from "../../api/auth/cookies.ts";
import type { AppDeps, AppEnv, RequestAuth } from "../../api/deps.ts";
import { AppError } from "../../api/errors.ts";
import { auditContextOf } from "../../api/request-context.ts";
import { forgetOwnDevice, listOwnDevices } from "../../api/services/account.ts";
import {
  listSessions,
  revokeOtherSessions,
  revokeOwnSession,
} from "../../api/services/auth-sessions.ts";
import { isHtmx, redirectAfterPost } from "../page-auth.tsx";
import { DevicesSection, SessionsSection } from "../pages/account-sessions.tsx";
import type { AccountNotice } from "./account.tsx";

/** After an action: htmx gets the refreshed section, a plain form the account page again. */
async function answer(
  c: Context<AppEnv>,
  deps: AppDeps,
  auth: RequestAuth,
  section: "sessions" | "devices",
  notice: { key: AccountNotice; text: string },
) {
  if (!isHtmx(c)) return c.redirect(`/account?notice=${notice.key}`, 303);
  if (section === "sessions") {
    return c.html(
      <SessionsSection sessions={await listSessions(deps, auth)} notice={notice.text} />,
    );
  }
  return c.html(<DevicesSection devices={await listOwnDevices(deps, auth)} notice={notice.text} />);
}

function isNotFound(err: unknown): boolean {
  return err instanceof AppError && err.code === "not_found";
}

/** `/account/sessions/*` and `/account/devices/*`: signing out sessions, forgetting devices. */
export function sessionPages(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();

  routes.post("/account/sessions/:id/revoke", async (c) => {
    const auth = requireAuth(c);
    const sessionId = c.req.param("id");
    try {
      await revokeOwnSession(deps, auditContextOf(c), auth, sessionId);
    } catch (err) {
      // Already ended (by expiry, or by another tab): the refreshed list says so by itself.
      if (!isNotFound(err)) throw err;
    }
    if (sessionId === auth.sessionId) {
      // The page offers no button for this, but a hand-made post signs this browser out.
      clearSessionCookies(c);
      return redirectAfterPost(c, "/login?notice=signed-out");
    }
    return answer(c, deps, auth, "sessions", {
      key: "session-revoked",
      text: "The session was signed out.",
    });
  });

  routes.post("/account/sessions/revoke-others", async (c) => {
    const auth = requireAuth(c);
    const count = await revokeOtherSessions(deps, auditContextOf(c), auth);
    return answer(c, deps, auth, "sessions", {
      key: "sessions-revoked",
      text: `Signed out ${count} other session${count === 1 ? "" : "s"}.`,
    });
  });

  routes.post("/account/devices/:id/forget", async (c) => {
    const auth = requireAuth(c);
    try {
      await forgetOwnDevice(deps, auditContextOf(c), auth, c.req.param("id"));
    } catch (err) {
      // Already forgotten (another tab): the refreshed list shows it gone either way.
      if (!isNotFound(err)) throw err;
    }
    return answer(c, deps, auth, "devices", {
      key: "device-forgotten",
      text: "Device forgotten; its next sign-in will count as a new device.",
    });
  });

  return routes;
}
