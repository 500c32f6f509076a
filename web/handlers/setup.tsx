/** @jsxImportSource hono/jsx */
import { publicRoute } from "../../api/auth/route-access.ts";
import { type Context, Hono } from "hono";
import {
  DEVICE_COOKIE,
  readCookie,
  setDeviceCookie,
  setSessionCookies,
} from "../../api/auth/cookies.ts";
import type { AppDeps, AppEnv } from "../../api/deps.ts";
import { AppError } from "../../api/errors.ts";
import { auditContextOf } from "../../api/request-context.ts";
import { SetupInput } from "../../api/services/auth-inputs.ts";
import { completeSetup, isSetupTokenLive } from "../../api/services/setup.ts";
import { hasAnyUser } from "../../api/services/users.ts";
import { fieldErrorsOf, parseForm, readForm } from "../forms.ts";
import { MessagePage } from "../pages/message.tsx";
import { SetupPage } from "../pages/setup.tsx";

const SIGN_IN = { href: "/login", label: "Go to sign in" };

function alreadyDone(c: Context<AppEnv>) {
  return c.html(
    <MessagePage
      title="Setup is complete"
      message="Caddis already has an administrator. Sign in with that account."
      link={SIGN_IN}
    />,
    409,
  );
}

function deadLink(c: Context<AppEnv>, message: string, status: 400 | 403) {
  return c.html(<MessagePage title="Setup link not valid" message={message} />, status);
}

const DEAD_TOKEN =
  "This setup link is invalid, used or expired. Restart Caddis to print a new one.";
const NO_TOKEN = "This page needs the one-time setup link that Caddis prints to its log at start.";

/** `/setup`: first-run creation of the superuser and the first tenant, from the one-time link. */
export function setupPages(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();

  routes.get("/setup", publicRoute, async (c) => {
    if (await hasAnyUser(deps.database.db)) return alreadyDone(c);
    const token = c.req.query("token");
    if (!token) return deadLink(c, NO_TOKEN, 400);
    if (!(await isSetupTokenLive(deps, token))) return deadLink(c, DEAD_TOKEN, 403);
    return c.html(<SetupPage token={token} />);
  });

  routes.post("/setup", publicRoute, async (c) => {
    const form = await readForm(c);
    if (!form.token) return deadLink(c, NO_TOKEN, 400);
    const kept = { token: form.token, email: form.email, tenantName: form.tenantName };
    const parsed = parseForm(SetupInput, form, ["token", "email", "password", "tenantName"]);
    if (!parsed.ok) {
      if (parsed.fields.token) return deadLink(c, NO_TOKEN, 400);
      return c.html(<SetupPage {...kept} errors={parsed.fields} />, 400);
    }
    try {
      const deviceCookie = readCookie(c, DEVICE_COOKIE);
      const result = await completeSetup(deps, auditContextOf(c), parsed.data, deviceCookie);
      setSessionCookies(c, result.tokens);
      setDeviceCookie(c, result.deviceToken);
      return c.redirect("/", 303);
    } catch (err) {
      if (err instanceof AppError && err.code === "conflict") return alreadyDone(c);
      if (err instanceof AppError && err.code === "forbidden") return deadLink(c, err.message, 403);
      const fields = fieldErrorsOf(err);
      if (!fields) throw err;
      return c.html(<SetupPage {...kept} errors={fields} />, 400);
    }
  });

  return routes;
}
