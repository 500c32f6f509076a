/** @jsxImportSource hono/jsx */
import { Hono } from "hono";
import { requireAuth } from "../../api/auth/authenticate.ts";
import { can } from "../../api/auth/grants.ts";
import { grantsFor } from "../../api/auth/route-access.ts";
import type { AppDeps, AppEnv } from "../../api/deps.ts";
import { type AlertView, listOpenAlerts } from "../../api/services/host-alerts.ts";
import type { HostStatus } from "../../api/services/host-status.ts";
import { listHosts } from "../../api/services/hosts.ts";
import { Table, Time } from "../components.tsx";
import { Layout } from "../layout.tsx";
import { requireSignedIn } from "../page-auth.tsx";
import { type PageUser, pageUserOf } from "../page-user.ts";

/** What the dashboard shows of hosts: counts by status and the open alerts. */
interface HostsSummary {
  counts: Record<Exclude<HostStatus, "revoked">, number>;
  alerts: AlertView[];
  /** Whether the user may open the page of the site an alert names. */
  maySeeSite: (siteId: string) => boolean;
}

// A site's alert leads to the site's page, for those who may open it.
function AlertText(props: { alert: AlertView; maySeeSite: (siteId: string) => boolean }) {
  const { siteId, message } = props.alert;
  if (siteId === null || !props.maySeeSite(siteId)) return <>{message}</>;
  return <a href={`/sites/${encodeURIComponent(siteId)}`}>{message}</a>;
}

function HostsCard(props: { summary: HostsSummary }) {
  const { counts, alerts } = props.summary;
  return (
    <section class="section" aria-labelledby="hosts-heading">
      <h2 id="hosts-heading">Hosts</h2>
      <p>
        {counts.online} online, {counts.offline} offline
        {counts.pending > 0 && `, ${counts.pending} waiting for enrolment`}.{" "}
        <a href="/hosts">See all hosts</a>
      </p>
      <Table
        caption="Open alerts, newest first"
        headers={["Host", "Alert", "Since"]}
        rows={alerts.map((alert) => [
          <a href={`/hosts/${encodeURIComponent(alert.hostId)}`}>{alert.hostName}</a>,
          <AlertText alert={alert} maySeeSite={props.summary.maySeeSite} />,
          <Time at={alert.raisedAt} />,
        ])}
        empty="No open alerts."
      />
    </section>
  );
}

/** `/`: the signed-in front page; each part shows only what the user may see here. */
function DashboardPage(props: { user: PageUser | undefined; hosts?: HostsSummary }) {
  const inTenant = props.user?.activeTenantId !== undefined;
  return (
    <Layout title="Dashboard" current="dashboard" user={props.user}>
      <div class="page-heading">
        <h1>Dashboard</h1>
      </div>
      {props.hosts && <HostsCard summary={props.hosts} />}
      {!props.hosts && (
        <div class="panel">
          <p>
            {inTenant
              ? "Your roles in this organisation do not include seeing its hosts."
              : "You are not a member of any organisation yet."}
          </p>
        </div>
      )}
      <p>
        <a href="/status">Service status</a>
      </p>
    </Layout>
  );
}

/** `/`: the dashboard. */
export function dashboardPages(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();

  routes.get("/", requireSignedIn("/"), async (c) => {
    const auth = requireAuth(c);
    const tenantId = c.get("tenantId");
    const grants = tenantId ? await grantsFor(deps, auth, tenantId) : undefined;
    let hosts: HostsSummary | undefined;
    if (tenantId && grants && can(grants, "hosts.read")) {
      const access = { auth, tenantId, grants };
      const [list, alerts] = await Promise.all([
        listHosts(deps, access),
        listOpenAlerts(deps.database.db, tenantId),
      ]);
      const counts = { online: 0, offline: 0, pending: 0 };
      for (const host of list) if (host.status !== "revoked") counts[host.status]++;
      hosts = { counts, alerts, maySeeSite: (siteId) => can(grants, "sites.read", siteId) };
    }
    return c.html(<DashboardPage user={pageUserOf(c)} hosts={hosts} />);
  });

  return routes;
}
