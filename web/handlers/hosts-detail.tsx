/** @jsxImportSource hono/jsx */
import type { CommandState } from "../../agent/protocol/commands.ts";
import type { SectionReport } from "../../agent/protocol/desired-state.ts";
import {
  type HostFacts,
  TOOL_NAMES,
  type ToolInventory,
} from "../../agent/protocol/host-report.ts";
import type { CommandView } from "../../api/services/agent-commands.ts";
import type { MetricPoint } from "../../api/services/host-metrics.ts";
import type { HostView } from "../../api/services/host-view.ts";
import type { SiteView } from "../../api/services/site-view.ts";
import { Badge, Button, type FlashMessage, Table, Time } from "../components.tsx";
import { Layout } from "../layout.tsx";
import type { PageUser } from "../page-user.ts";
import { LastSeen, ModeFlag, StatusBadge } from "./hosts-list.tsx";
import { formatBytes, UsageSection } from "./hosts-usage.tsx";
import { HostSitesSection } from "./sites-list.tsx";

const hostPath = (host: { id: string }) => `/hosts/${encodeURIComponent(host.id)}`;

function Facts(props: { facts: HostFacts | null }) {
  const { facts } = props;
  if (!facts) return <p class="muted">The agent has not reported yet.</p>;
  return (
    <dl class="facts">
      <dt>Hostname</dt>
      <dd>{facts.hostname}</dd>
      <dt>Operating system</dt>
      <dd>{facts.os}</dd>
      <dt>Kernel</dt>
      <dd>{facts.kernel} ({facts.arch})</dd>
      <dt>CPU</dt>
      <dd>{facts.cpuModel}, {facts.cpuCount} {facts.cpuCount === 1 ? "core" : "cores"}</dd>
      <dt>Memory</dt>
      <dd>{formatBytes(facts.memoryBytes)}</dd>
      <dt>Disk</dt>
      <dd>
        <code>{facts.disk.path}</code>: {formatBytes(facts.disk.freeBytes)} free of{" "}
        {formatBytes(facts.disk.totalBytes)}
      </dd>
    </dl>
  );
}

function Inventory(props: { inventory: ToolInventory | null }) {
  const { inventory } = props;
  if (!inventory) return <p class="muted">No tool inventory yet.</p>;
  return (
    <Table
      caption="Tools on this host"
      headers={["Tool", "Present", "Version", "Path"]}
      rows={TOOL_NAMES.map((name) => {
        const tool = inventory[name];
        return [
          <code>{name}</code>,
          tool?.present ? <Badge state="ok">Yes</Badge> : <Badge state="warn">No</Badge>,
          tool?.version ?? "",
          tool?.path ? <code>{tool.path}</code> : "",
        ];
      })}
    />
  );
}

function Sections(props: { sections: Record<string, SectionReport> }) {
  const entries = Object.entries(props.sections);
  if (entries.length === 0) return null;
  return (
    <Table
      caption="Convergence by section"
      headers={["Section", "State", "Still differs", "Error"]}
      rows={entries.map(([name, section]) => [
        name,
        section.ok ? <Badge state="ok">Applied</Badge> : <Badge state="error">Failed</Badge>,
        section.drift.length === 0 ? "Nothing" : (
          <ul>
            {section.drift.map((line) => <li>{line}</li>)}
          </ul>
        ),
        section.error ?? "",
      ])}
    />
  );
}

const STATE_TEXT: Record<CommandState, string> = {
  queued: "Queued",
  sent: "Sent",
  running: "Running",
  succeeded: "Succeeded",
  failed: "Failed",
  expired: "Expired",
  superseded: "Superseded",
  cancelled: "Cancelled",
};

function StateText(props: { state: CommandState }) {
  const text = STATE_TEXT[props.state];
  if (props.state === "succeeded") return <Badge state="ok">{text}</Badge>;
  if (props.state === "failed" || props.state === "expired") {
    return <Badge state="error">{text}</Badge>;
  }
  return <>{text}</>;
}

function Commands(props: { commands: CommandView[] }) {
  return (
    <Table
      caption="Recent commands, newest first"
      headers={["Command", "State", "Queued", "Finished", "Deliveries", "Error"]}
      rows={props.commands.map((command) => [
        <code>{command.kind}</code>,
        <StateText state={command.state} />,
        <Time at={command.createdAt} />,
        command.finishedAt ? <Time at={command.finishedAt} /> : "",
        String(command.deliveries),
        command.error ?? "",
      ])}
      empty="No commands yet."
    />
  );
}

function Actions(props: { host: HostView; canUpdate: boolean; canDelete: boolean }) {
  const { host } = props;
  if (!props.canUpdate && !props.canDelete) return null;
  return (
    <section class="section" aria-labelledby="actions-heading">
      <h2 id="actions-heading">Actions</h2>
      <div class="form-actions">
        {props.canUpdate && host.enrolled && (
          <form class="inline-form" method="post" action={`${hostPath(host)}/diagnose`}>
            <Button variant="secondary">Diagnose</Button>
          </form>
        )}
        {props.canUpdate && (
          <form class="inline-form" method="post" action={`${hostPath(host)}/enrolment`}>
            <Button variant="secondary">
              {host.enrolled ? "Re-enrol with a new key" : "New enrolment command"}
            </Button>
          </form>
        )}
        {props.canDelete && (
          <form class="inline-form" method="post" action={`${hostPath(host)}/revoke`}>
            <Button variant="danger">Revoke…</Button>
          </form>
        )}
      </div>
      <p class="field-hint">
        Diagnose refreshes the facts and tool inventory. A new enrolment command replaces any unused
        one; on an enrolled host, the agent that uses it replaces the host's key.
      </p>
    </section>
  );
}

/** `/hosts/:id`: facts, tools, usage, convergence and command history of one host. */
export function HostPage(props: {
  user: PageUser | undefined;
  host: HostView;
  points: MetricPoint[];
  commands: CommandView[];
  now: Date;
  canUpdate: boolean;
  canDelete: boolean;
  /** The host's sites the user may read; undefined when they may read none. */
  sites?: SiteView[];
  flash?: FlashMessage[];
}) {
  const { host } = props;
  return (
    <Layout title={host.name} current="hosts" user={props.user} flash={props.flash}>
      <div class="page-heading">
        <h1>{host.name}</h1>
        <StatusBadge status={host.status} />
        {host.isLocal && <Badge state="ok">This server</Badge>}
        <a href="/hosts">Back to hosts</a>
      </div>
      <dl class="facts">
        <dt>Last seen</dt>
        <dd>
          <LastSeen host={host} />
        </dd>
        <dt>Agent</dt>
        <dd>
          {host.agentVersion
            ? `${host.agentVersion} (protocol ${host.protocolVersion ?? "unknown"})`
            : "Unknown"}
        </dd>
        <dt>Mode</dt>
        <dd>
          <ModeFlag host={host} />
        </dd>
        <dt>Enrolled</dt>
        <dd>{host.enrolledAt ? <Time at={host.enrolledAt} /> : "Not yet"}</dd>
        <dt>Drift</dt>
        <dd>
          {host.drift ? "Yes" : "No"}: revision {host.observedRevision ?? "none"} applied of{" "}
          {host.desiredRevision}
        </dd>
      </dl>
      <Actions host={host} canUpdate={props.canUpdate} canDelete={props.canDelete} />
      <section class="section" aria-labelledby="facts-heading">
        <h2 id="facts-heading">Facts</h2>
        <Facts facts={host.facts} />
      </section>
      <section class="section" aria-labelledby="tools-heading">
        <h2 id="tools-heading">Tools</h2>
        <Inventory inventory={host.inventory} />
        <Sections sections={host.sections} />
      </section>
      {props.sites && <HostSitesSection sites={props.sites} />}
      <UsageSection points={props.points} now={props.now} cpuCount={host.facts?.cpuCount ?? 1} />
      <section class="section" aria-labelledby="commands-heading">
        <h2 id="commands-heading">Commands</h2>
        <Commands commands={props.commands} />
      </section>
    </Layout>
  );
}

/** The confirmation step before revoking a host. */
export function RevokeHostPage(
  props: { user: PageUser | undefined; host: { id: string; name: string } },
) {
  const { host } = props;
  return (
    <Layout title={`Revoke ${host.name}`} current="hosts" user={props.user}>
      <div class="page-heading">
        <h1>Revoke {host.name}?</h1>
      </div>
      <div class="panel">
        <p>
          Its agent is disconnected at once and can never connect again with its key; commands not
          yet finished are cancelled. To manage this machine again, add it as a new host.
        </p>
        <form method="post" action={`${hostPath(host)}/revoke`}>
          <input type="hidden" name="confirm" value="yes" />
          <div class="form-actions">
            <Button variant="danger">Revoke {host.name}</Button>
            <a href={hostPath(host)}>Cancel</a>
          </div>
        </form>
      </div>
    </Layout>
  );
}
