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
import { auditContextOf } from "../../api/request-context.ts";
import { LoginInput, MfaVerifyInput } from "../../api/services/auth-inputs.ts";
import { login, type SignedIn } from "../../api/services/auth-login.ts";
import { completeMfa } from "../../api/services/auth-mfa.ts";
import type { FlashMessage } from "../components.tsx";
import { describeWait, parseForm, readForm } from "../forms.ts";
import { safeNextPath } from "../next-path.ts";
import { MfaPage } from "../pages/login-2fa.tsx";
import { LoginPage } from "../pages/login.tsx";

const NOTICES: Record<string, FlashMessage> = {
  "signed-out": { kind: "info", text: "You are signed out." },
};

function throttledFlash(retryAfterSeconds: number): FlashMessage[] {
  const wait = describeWait(retryAfterSeconds);
  return [{ kind: "error", text: `Too many failed sign-in attempts; try again in ${wait}.` }];
}

function clientOf(c: Context<AppEnv>) {
  return { audit: auditContextOf(c), deviceToken: readCookie(c, DEVICE_COOKIE) };
}

/** Hands the browser its cookies and sends it on; a 303 so a reload does not post again. */
function signedIn(c: Context<AppEnv>, result: SignedIn, next: string | undefined) {
  setSessionCookies(c, result.tokens);
  setDeviceCookie(c, result.deviceToken);
  return c.redirect(next ?? "/", 303);
}

/** `/login` and `/login/2fa`: signing a browser in with cookies (sign-out: LOGOUT_PATH). */
export function loginPages(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();

  routes.get("/login", publicRoute, (c) => {
    const next = safeNextPath(c.req.query("next"));
    if (c.get("auth")) return c.redirect(next ?? "/", 302);
    const key = c.req.query("notice") ?? "";
    // hasOwn: a crafted `?notice=constructor` must not reach Object.prototype.
    const flash = Object.hasOwn(NOTICES, key) ? [NOTICES[key] as FlashMessage] : [];
    return c.html(<LoginPage next={next} flash={flash} tryRefresh />);
  });

  routes.post("/login", publicRoute, async (c) => {
    const form = await readForm(c);
    const next = safeNextPath(form.next);
    const email = form.email;
    const parsed = parseForm(LoginInput, form, ["email", "password"]);
    if (!parsed.ok) {
      return c.html(<LoginPage next={next} email={email} errors={parsed.fields} />, 400);
    }
    const result = await login(deps, clientOf(c), parsed.data);
    switch (result.kind) {
      case "signed_in":
        return signedIn(c, result, next);
      case "mfa_required":
        return c.html(<MfaPage mfaToken={result.mfaToken} next={next} />);
      case "invalid": {
        const flash: FlashMessage[] = [{ kind: "error", text: "Email or password is incorrect." }];
        return c.html(<LoginPage next={next} email={email} flash={flash} />, 401);
      }
      case "throttled":
        c.header("Retry-After", String(Math.ceil(result.retryAfterSeconds)));
        return c.html(
          <LoginPage next={next} email={email} flash={throttledFlash(result.retryAfterSeconds)} />,
          429,
        );
    }
  });

  routes.post("/login/2fa", publicRoute, async (c) => {
    const form = await readForm(c);
    const next = safeNextPath(form.next);
    const mfaToken = form.mfaToken ?? "";
    const method = form.backupCode !== undefined ? "backupCode" : "code";
    const again = (status: 400 | 401 | 429, props: Parameters<typeof MfaPage>[0]) =>
      c.html(<MfaPage {...props} />, status);
    // An empty field would still spend one of the token's five attempts; ask again for free.
    if (!form[method]?.trim()) {
      return again(400, { mfaToken, next, method, errors: { [method]: "is required" } });
    }
    const parsed = parseForm(MfaVerifyInput, form, ["mfaToken", method]);
    if (!parsed.ok) {
      const errors = { [method]: parsed.fields[method] ?? "is not valid" };
      return again(400, { mfaToken, next, method, errors });
    }
    const result = await completeMfa(deps, clientOf(c), parsed.data);
    switch (result.kind) {
      case "signed_in":
        return signedIn(c, result, next);
      case "invalid_token":
      case "wrong_code": {
        if (result.kind === "wrong_code" && result.attemptsLeft > 0) {
          const left = `${result.attemptsLeft} attempt${result.attemptsLeft === 1 ? "" : "s"} left`;
          return again(401, {
            mfaToken,
            next,
            method,
            errors: { [method]: `is not valid; ${left}` },
          });
        }
        const text = "The sign-in attempt expired or had too many wrong codes; sign in again.";
        return c.html(<LoginPage next={next} flash={[{ kind: "error", text }]} />, 401);
      }
      case "throttled":
        c.header("Retry-After", String(Math.ceil(result.retryAfterSeconds)));
        return again(429, {
          mfaToken,
          next,
          method,
          flash: throttledFlash(result.retryAfterSeconds),
        });
    }
  });

  return routes;
}
