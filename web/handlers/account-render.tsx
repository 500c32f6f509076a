/** @jsxImportSource hono/jsx */
import type { Context } from "hono";
import type { AppDeps, AppEnv, RequestAuth } from "../../api/deps.ts";
import { listOwnDevices, totpStatus } from "../../api/services/account.ts";
import { listSessions } from "../../api/services/auth-sessions.ts";
import { recentSecurityEvents } from "../../api/services/security-events.ts";
import type { FlashMessage } from "../components.tsx";
import { requirePageUser } from "../page-user.ts";
import { type AccountData, type AccountErrors, AccountPage } from "../pages/account.tsx";

/** Reads everything the account page shows, in parallel. */
export async function loadAccount(deps: AppDeps, auth: RequestAuth): Promise<AccountData> {
  const [twoFactor, sessions, devices, events] = await Promise.all([
    totpStatus(deps, auth),
    listSessions(deps, auth),
    listOwnDevices(deps, auth),
    recentSecurityEvents(deps, auth.userId),
  ]);
  return { twoFactor, sessions, devices, events };
}

/** Renders the whole account page, with a form's errors when a post is answered in place. */
export async function renderAccount(
  c: Context<AppEnv>,
  deps: AppDeps,
  auth: RequestAuth,
  options: { errors?: AccountErrors; flash?: FlashMessage[]; status?: 200 | 400 | 404 | 409 } = {},
) {
  const data = await loadAccount(deps, auth);
  // A problem that names no field (`form`) goes to the top of the page rather than nowhere.
  const formProblems = Object.values(options.errors ?? {}).flatMap((fields) =>
    fields?.form ? [{ kind: "error" as const, text: fields.form }] : []
  );
  const flash = [...(options.flash ?? []), ...formProblems];
  return c.html(
    <AccountPage user={requirePageUser(c)} data={data} errors={options.errors} flash={flash} />,
    options.status ?? 200,
  );
}
