/** @jsxImportSource hono/jsx */
import { type Context, Hono } from "hono";
import { can, canOnSomeSite } from "../../api/auth/grants.ts";
import { accessOf } from "../../api/auth/route-access.ts";
import type { AppDeps, AppEnv } from "../../api/deps.ts";
import { auditContextOf } from "../../api/request-context.ts";
import { listHostCommands } from "../../api/services/agent-commands.ts";
import { createHost, type Enrolment, reissueEnrolment } from "../../api/services/host-enrolment.ts";
import { CreateHostInput } from "../../api/services/host-inputs.ts";
import { metricSeries } from "../../api/services/host-metrics.ts";
import type { HostView } from "../../api/services/host-view.ts";
import { diagnoseHost, getHost, listHosts, revokeHost } from "../../api/services/hosts.ts";
import { listSites } from "../../api/services/sites.ts";
import type { FlashMessage } from "../components.tsx";
import { parseForm, readForm } from "../forms.ts";
import { pagePermission, redirectAfterPost } from "../page-auth.tsx";
import { pageUserOf } from "../page-user.ts";
import { type NotFound, orNotFoundPage } from "./not-found.tsx";
import { HostPage, RevokeHostPage } from "./hosts-detail.tsx";
import { EnrolmentPage, HostsPage, NewHostPage } from "./hosts-list.tsx";
import { USAGE_HOURS } from "./hosts-usage.tsx";
import { noticeFlash, refusalOf } from "./roles.tsx";

// Fixed texts picked by a query key, so the address bar cannot put words on the page.
const NOTICES: Record<string, string> = {
  revoked: "Host revoked. Its agent was disconnected and cannot connect again.",
  diagnose: "Diagnosis queued. The facts and tools below refresh when the agent reports back.",
};

// The command history the host page shows; the JSON API pages through the rest.
const RECENT_COMMANDS = 50;

const HOUR_MS = 60 * 60 * 1000;

const NOT_FOUND: NotFound = {
  title: "Host not found",
  message: "There is no such host in this organisation, or it was revoked.",
  back: { href: "/hosts", label: "Back to hosts" },
};

const orNotFound = (c: Context<AppEnv>, run: () => Promise<Response>) =>
  orNotFoundPage(c, NOT_FOUND, run);

function enrolmentPage(c: Context<AppEnv>, created: { host: HostView; enrolment: Enrolment }) {
  // Every response is `no-store` (middleware.ts): the token is in this one response only.
  return c.html(<EnrolmentPage user={pageUserOf(c)} {...created} />);
}

/** `/hosts`, `/hosts/new`, `/hosts/:id`: the tenant's hosts, enrolling new ones, revoking. */
export function hostsPages(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  const permit = pagePermission(deps);

  routes.get("/hosts", permit("hosts.read", "/hosts"), async (c) => {
    const access = accessOf(c);
    return c.html(
      <HostsPage
        user={pageUserOf(c)}
        hosts={await listHosts(deps, access)}
        canCreate={can(access.grants, "hosts.create")}
        flash={noticeFlash(c, NOTICES)}
      />,
    );
  });

  // Before `/hosts/:id`, which would otherwise take "new" for an id.
  routes.get("/hosts/new", permit("hosts.create", "/hosts/new"), (c) => {
    return c.html(<NewHostPage user={pageUserOf(c)} name="" />);
  });

  routes.post("/hosts/new", permit("hosts.create", "/hosts/new"), async (c) => {
    const form = await readForm(c);
    const name = form.name ?? "";
    const parsed = parseForm(CreateHostInput, form, ["name"]);
    if (!parsed.ok) {
      return c.html(<NewHostPage user={pageUserOf(c)} name={name} errors={parsed.fields} />, 400);
    }
    try {
      return enrolmentPage(c, await createHost(deps, accessOf(c), auditContextOf(c), parsed.data));
    } catch (err) {
      const { flash, status } = refusalOf(err);
      return c.html(<NewHostPage user={pageUserOf(c)} name={name} flash={[flash]} />, status);
    }
  });

  routes.get("/hosts/:id", permit("hosts.read", "/hosts"), (c) =>
    orNotFound(c, async () => {
      const access = accessOf(c);
      const host = await getHost(deps, access, c.req.param("id"));
      const db = deps.database.db;
      const now = deps.now();
      const since = new Date(now.getTime() - USAGE_HOURS * HOUR_MS);
      const points = await metricSeries(db, host.id, since);
      const commands = await listHostCommands(db, host.id, { limit: RECENT_COMMANDS });
      const sites = canOnSomeSite(access.grants, "sites.read")
        ? await listSites(deps, access, { hostId: host.id })
        : undefined;
      const flash: FlashMessage[] = noticeFlash(c, NOTICES);
      return c.html(
        <HostPage
          user={pageUserOf(c)}
          host={host}
          points={points}
          commands={commands}
          now={now}
          canUpdate={can(access.grants, "hosts.update")}
          canDelete={can(access.grants, "hosts.delete")}
          sites={sites}
          flash={flash}
        />,
      );
    }));

  routes.post(
    "/hosts/:id/diagnose",
    permit("hosts.update", "/hosts"),
    (c) =>
      orNotFound(c, async () => {
        const id = c.req.param("id");
        await diagnoseHost(deps, accessOf(c), auditContextOf(c), id);
        return redirectAfterPost(c, `/hosts/${encodeURIComponent(id)}?notice=diagnose`);
      }),
  );

  routes.post(
    "/hosts/:id/enrolment",
    permit("hosts.update", "/hosts"),
    (c) =>
      orNotFound(c, async () => {
        const id = c.req.param("id");
        return enrolmentPage(c, await reissueEnrolment(deps, accessOf(c), auditContextOf(c), id));
      }),
  );

  // Two steps without script: the first post asks, the second (with confirm=yes) revokes.
  routes.post(
    "/hosts/:id/revoke",
    permit("hosts.delete", "/hosts"),
    (c) =>
      orNotFound(c, async () => {
        const access = accessOf(c);
        const id = c.req.param("id");
        const form = await readForm(c);
        if (form.confirm !== "yes") {
          // Revoking does not need `hosts.read`; without it the page names the host by its id.
          const host = can(access.grants, "hosts.read")
            ? await getHost(deps, access, id)
            : { id, name: id };
          return c.html(<RevokeHostPage user={pageUserOf(c)} host={host} />);
        }
        await revokeHost(deps, access, auditContextOf(c), id);
        return redirectAfterPost(c, "/hosts?notice=revoked");
      }),
  );

  return routes;
}
