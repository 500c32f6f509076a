/** @jsxImportSource hono/jsx */
import type { SiteStatus } from "../../agent/protocol/sites.ts";
import type { HostView } from "../../api/services/host-view.ts";
import type { SiteView } from "../../api/services/site-view.ts";
import {
  Badge,
  Button,
  Field,
  type FieldProblems,
  type FlashMessage,
  FormField,
  problemOf,
  Table,
} from "../components.tsx";
import { Layout } from "../layout.tsx";
import type { PageUser } from "../page-user.ts";
import { SiteFields, type SiteFormValues } from "./sites-form.tsx";

/** The page of one site. */
export const sitePath = (site: { id: string }) => `/sites/${encodeURIComponent(site.id)}`;

/** A site's status as a badge whose text says it too; a stopped site is greyed, not alarming. */
export function SiteStatusBadge(props: { status: SiteStatus }) {
  switch (props.status) {
    case "running":
      return <Badge state="ok">Running</Badge>;
    case "pending":
      return <Badge state="warn">Pending</Badge>;
    case "failed":
      return <Badge state="error">Failed</Badge>;
    case "stopped":
      return <span class="badge muted">Stopped</span>;
  }
}

/** The port Caddy serves the site on, once the host has said. */
export function HttpPort(props: { site: SiteView }) {
  return props.site.httpPort === null
    ? <span class="muted">Not reported yet</span>
    : <>{props.site.httpPort}</>;
}

function Aliases(props: { aliases: string[] }) {
  if (props.aliases.length === 0) return <span class="muted">None</span>;
  return <>{props.aliases.join(", ")}</>;
}

/** A table of sites; the host's own page leaves out the host column. */
export function SitesTable(
  props: { sites: SiteView[]; caption: string; empty: string; withHost: boolean },
) {
  const host = (site: SiteView) => (props.withHost ? [site.hostName] : []);
  return (
    <Table
      caption={props.caption}
      headers={[
        "Domain",
        "Aliases",
        ...(props.withHost ? ["Host"] : []),
        "Runtime",
        "Status",
        "HTTP port",
      ]}
      rows={props.sites.map((site) => [
        <a href={sitePath(site)}>{site.domain}</a>,
        <Aliases aliases={site.aliases} />,
        ...host(site),
        site.runtime,
        <SiteStatusBadge status={site.status} />,
        <HttpPort site={site} />,
      ])}
      empty={props.empty}
    />
  );
}

/** The sites on one host, on the host's page. */
export function HostSitesSection(props: { sites: SiteView[] }) {
  return (
    <section class="section" aria-labelledby="sites-heading">
      <h2 id="sites-heading">Sites</h2>
      <SitesTable
        sites={props.sites}
        caption="Sites on this host"
        empty="No sites on this host yet."
        withHost={false}
      />
    </section>
  );
}

/** `/sites`: the sites the user may see in this organisation. */
export function SitesPage(props: {
  user: PageUser | undefined;
  sites: SiteView[];
  canCreate: boolean;
  flash?: FlashMessage[];
}) {
  return (
    <Layout title="Sites" current="sites" user={props.user} flash={props.flash}>
      <div class="page-heading">
        <h1>Sites</h1>
        {props.canCreate && <a href="/sites/new">New site</a>}
      </div>
      <SitesTable
        sites={props.sites}
        caption="Sites of this organisation"
        empty="No sites yet."
        withHost
      />
    </Layout>
  );
}

const HOST_STATUS_TEXT: Record<HostView["status"], string> = {
  online: "online",
  offline: "offline",
  pending: "waiting for enrolment",
  revoked: "revoked",
};

// A select of the tenant's hosts; someone who may create sites but not see hosts types the id.
function HostChoice(props: { hosts: HostView[] | undefined; value: string; error?: string }) {
  const { hosts } = props;
  if (!hosts) {
    return (
      <FormField
        label="Host id"
        name="hostId"
        value={props.value}
        error={props.error}
        hint="The id of the host to run the site on, such as host_…; ask an administrator."
        required
      />
    );
  }
  return (
    <Field
      name="hostId"
      label="Host"
      error={props.error}
      control={(attrs) => (
        <select {...attrs} name="hostId" required>
          {hosts.map((host) => (
            <option value={host.id} selected={host.id === props.value}>
              {host.name} ({HOST_STATUS_TEXT[host.status]})
            </option>
          ))}
        </select>
      )}
    />
  );
}

/**
 * `/sites/new`: the form for a new site. `hosts` is undefined when the user may not list hosts;
 * an empty list means there is nowhere to put a site yet.
 */
export function NewSitePage(props: {
  user: PageUser | undefined;
  hosts: HostView[] | undefined;
  values: SiteFormValues;
  errors?: FieldProblems;
  flash?: FlashMessage[];
}) {
  const { hosts, values, errors } = props;
  return (
    <Layout title="New site" current="sites" user={props.user} flash={props.flash}>
      <div class="page-heading">
        <h1>New site</h1>
        <a href="/sites">Back to sites</a>
      </div>
      {hosts?.length === 0
        ? (
          <div class="panel">
            <p>
              A site runs on a host, and this organisation has none yet.{" "}
              <a href="/hosts/new">Add a host</a> first.
            </p>
          </div>
        )
        : (
          <form class="panel narrow" method="post" action="/sites/new">
            <HostChoice
              hosts={hosts}
              value={values.hostId}
              error={problemOf(errors, "hostId", "Host")}
            />
            <SiteFields values={values} errors={errors} hostDefault />
            <p class="field-hint">
              Environment variables are set on the site's page once it exists.
            </p>
            <Button>Create site</Button>
          </form>
        )}
    </Layout>
  );
}
