/** @jsxImportSource hono/jsx */
import type { Enrolment } from "../../api/services/host-enrolment.ts";
import type { HostStatus } from "../../api/services/host-status.ts";
import type { HostView } from "../../api/services/host-view.ts";
import {
  Badge,
  type BadgeState,
  Button,
  type FieldProblems,
  type FlashMessage,
  FormField,
  problemOf,
  Table,
  Time,
} from "../components.tsx";
import { Layout } from "../layout.tsx";
import type { PageUser } from "../page-user.ts";

const STATUS_BADGES: Record<HostStatus, { state: BadgeState; text: string }> = {
  online: { state: "ok", text: "Online" },
  offline: { state: "error", text: "Offline" },
  pending: { state: "warn", text: "Waiting for enrolment" },
  revoked: { state: "error", text: "Revoked" },
};

/** A host's status as a badge whose text says it too. */
export function StatusBadge(props: { status: HostStatus }) {
  const badge = STATUS_BADGES[props.status];
  return <Badge state={badge.state}>{badge.text}</Badge>;
}

/** "Sandbox" with the agent's reason: such a host changes nothing outside the agent's data dir. */
export function ModeFlag(props: { host: HostView }) {
  const { mode, modeReason } = props.host;
  if (mode === null) return <span class="muted">Unknown</span>;
  if (mode === "system") return <>System</>;
  return (
    <>
      <Badge state="warn">Sandbox</Badge>{" "}
      <span class="muted">{modeReason ?? "no reason given"}</span>
    </>
  );
}

/** When the agent was last heard from, or that it never was. */
export function LastSeen(props: { host: HostView }) {
  return props.host.lastSeenAt
    ? <Time at={props.host.lastSeenAt} />
    : <span class="muted">Never</span>;
}

/** `/hosts`: the tenant's hosts. */
export function HostsPage(props: {
  user: PageUser | undefined;
  hosts: HostView[];
  canCreate: boolean;
  flash?: FlashMessage[];
}) {
  return (
    <Layout title="Hosts" current="hosts" user={props.user} flash={props.flash}>
      <div class="page-heading">
        <h1>Hosts</h1>
        {props.canCreate && <a href="/hosts/new">Add a host</a>}
      </div>
      <Table
        caption="Hosts of this organisation"
        headers={["Name", "Status", "Last seen", "Agent", "Mode", "Drift"]}
        rows={props.hosts.map((host) => [
          <a href={`/hosts/${encodeURIComponent(host.id)}`}>{host.name}</a>,
          <StatusBadge status={host.status} />,
          <LastSeen host={host} />,
          host.agentVersion ?? <span class="muted">Unknown</span>,
          <ModeFlag host={host} />,
          host.enrolled ? (host.drift ? "Yes" : "No") : <span class="muted">Not enrolled</span>,
        ])}
        empty="No hosts yet."
      />
    </Layout>
  );
}

/** `/hosts/new`: the form naming a new host. */
export function NewHostPage(props: {
  user: PageUser | undefined;
  name: string;
  errors?: FieldProblems;
  flash?: FlashMessage[];
}) {
  return (
    <Layout title="Add a host" current="hosts" user={props.user} flash={props.flash}>
      <div class="page-heading">
        <h1>Add a host</h1>
        <a href="/hosts">Back to hosts</a>
      </div>
      <form class="panel narrow" method="post" action="/hosts/new">
        <FormField
          label="Name"
          name="name"
          value={props.name}
          error={problemOf(props.errors, "name", "Name")}
          hint="Letters, digits and hyphens, such as web-1. Next comes the command to run there."
          maxlength={63}
          required
          autofocus
        />
        <Button>Add host</Button>
      </form>
    </Layout>
  );
}

/**
 * The enrolment command of a host just added (or re-issued): in this response only, since only
 * the token's hash is kept. Served with `no-store`, so going back does not bring it back either.
 */
export function EnrolmentPage(props: {
  user: PageUser | undefined;
  host: HostView;
  enrolment: Enrolment;
}) {
  const { host, enrolment } = props;
  return (
    <Layout title={`Enrol ${host.name}`} current="hosts" user={props.user} scripts={["copy.js"]}>
      <div class="page-heading">
        <h1>Enrol {host.name}</h1>
        <a href={`/hosts/${encodeURIComponent(host.id)}`}>Go to the host</a>
      </div>
      <section class="section" aria-labelledby="enrol-heading">
        <h2 id="enrol-heading">Run this on the host</h2>
        <p role="alert">
          Copy this command now: it is shown only this once. It holds a one-time token that works
          until{" "}
          <Time at={enrolment.expiresAt} />; Caddis keeps only a hash of it. If it is lost or
          expires, ask for a new enrolment command on the host's page.
        </p>
        <div class="field">
          <label for="enrol-command">Enrolment command</label>
          <textarea id="enrol-command" rows={4} readonly autocomplete="off" spellcheck={false}>
            {enrolment.command}
          </textarea>
        </div>
        <div class="form-actions">
          <button type="button" class="button button-secondary" data-copy="enrol-command" hidden>
            Copy command
          </button>
        </div>
        <p class="field-hint">
          Run it from a checkout of Caddis as the user the agent runs as; it registers the agent's
          key, then starts the agent, which shows the host online here.
        </p>
      </section>
    </Layout>
  );
}
