/** @jsxImportSource hono/jsx */
import type { SiteView } from "../../api/services/site-view.ts";
import {
  Button,
  Field,
  type FieldProblems,
  type FlashMessage,
  Table,
  Time,
} from "../components.tsx";
import { Layout } from "../layout.tsx";
import type { PageUser } from "../page-user.ts";
import { SiteFields, type SiteFormValues } from "./sites-form.tsx";
import { HttpPort, sitePath, SiteStatusBadge } from "./sites-list.tsx";

// How often a pending site's status is asked for again: cheap (one row), and a worker usually
// starts within a few seconds.
const STATUS_POLL = "every 3s";

/**
 * A site's status, when it was reported and the last error. While the site is pending, htmx
 * swaps in a fresh copy every few seconds; once it has settled the copy carries no trigger.
 */
export function SiteStatusBlock(props: { site: SiteView }) {
  const { site } = props;
  const pending = site.status === "pending";
  return (
    <div
      id="site-status"
      hx-get={pending ? `${sitePath(site)}/status` : undefined}
      hx-trigger={pending ? STATUS_POLL : undefined}
      hx-swap={pending ? "outerHTML" : undefined}
    >
      <SiteStatusBadge status={site.status} /> {site.statusAt
        ? (
          <span class="muted">
            reported <Time at={site.statusAt} />
          </span>
        )
        : <span class="muted">the host has not reported on it yet</span>}
      {site.lastError && <pre>{site.lastError}</pre>}
    </div>
  );
}

/** The form values that show a site as it is stored. */
export function storedValues(site: SiteView): SiteFormValues {
  return {
    domain: site.domain,
    aliases: site.aliases.join("\n"),
    hostId: site.hostId,
    runtime: site.runtime,
    docroot: site.docroot,
  };
}

function Overview(props: { site: SiteView }) {
  const { site } = props;
  return (
    <dl class="facts">
      <dt>Status</dt>
      <dd>
        <SiteStatusBlock site={site} />
      </dd>
      <dt>Aliases</dt>
      <dd>
        {site.aliases.length === 0 ? <span class="muted">None</span> : site.aliases.join(", ")}
      </dd>
      <dt>Host</dt>
      <dd>
        <a href={`/hosts/${encodeURIComponent(site.hostId)}`}>{site.hostName}</a>
      </dd>
      <dt>Runtime</dt>
      <dd>{site.runtime}</dd>
      <dt>Document root</dt>
      <dd>
        <code>{site.docroot === "" ? "(the release itself)" : site.docroot}</code>
        {site.docrootPath
          ? (
            <>
              {" "}on the host at <code>{site.docrootPath}</code>
            </>
          )
          : <span class="muted">; its path on the host is not reported yet</span>}
      </dd>
      <dt>Worker ports</dt>
      <dd>
        {site.workerPort} and {site.workerPort + 1} on 127.0.0.1;{" "}
        {site.livePort === null ? "none serving now" : `${site.livePort} serving now`}
      </dd>
      <dt>HTTP port</dt>
      <dd>
        <HttpPort site={site} />
      </dd>
      <dt>System user</dt>
      <dd>
        <code>{site.systemUser}</code>
      </dd>
    </dl>
  );
}

function Actions(props: { site: SiteView; canUpdate: boolean; canDelete: boolean }) {
  const { site } = props;
  if (!props.canUpdate && !props.canDelete) return null;
  return (
    <section class="section" aria-labelledby="actions-heading">
      <h2 id="actions-heading">Actions</h2>
      <div class="form-actions">
        {props.canUpdate && site.enabled && (
          <form class="inline-form" method="post" action={`${sitePath(site)}/restart`}>
            <Button variant="secondary">Restart</Button>
          </form>
        )}
        {props.canUpdate && (
          <form class="inline-form" method="post" action={`${sitePath(site)}/enabled`}>
            <input type="hidden" name="enabled" value={site.enabled ? "false" : "true"} />
            <Button variant="secondary">{site.enabled ? "Stop site" : "Start site"}</Button>
          </form>
        )}
        {props.canDelete && (
          <form class="inline-form" method="post" action={`${sitePath(site)}/delete`}>
            <Button variant="danger">Delete…</Button>
          </form>
        )}
      </div>
      <p class="field-hint">
        Restart starts a new worker beside the old one, so no request is dropped. A stopped site
        keeps its files and ports but is not served.
      </p>
    </section>
  );
}

function EnvSection(props: { site: SiteView; canUpdate: boolean; error?: string }) {
  const { site } = props;
  return (
    <section class="section" aria-labelledby="env-heading">
      <h2 id="env-heading">Environment variables</h2>
      <Table
        caption="Variables the worker receives; values are never shown"
        headers={["Name", "Value"]}
        rows={site.envNames.map((name) => [<code>{name}</code>, <span class="muted">••••</span>])}
        empty="No variables set."
      />
      {props.canUpdate && (
        // Write-only: the textarea always starts empty, since values are never sent back.
        <form method="post" action={`${sitePath(site)}/env`}>
          <Field
            name="env"
            label="Replace all variables"
            hint="One NAME=value per line; the value is everything after the first =, taken as is. Saving replaces every variable listed above, so include the ones to keep."
            error={props.error && `Variables: ${props.error}`}
            control={(attrs) => (
              <textarea
                {...attrs}
                name="env"
                rows={5}
                autocomplete="off"
                spellcheck={false}
              >
              </textarea>
            )}
          />
          <label class="checkbox">
            <input type="checkbox" name="clear" value="yes" />{" "}
            Remove all variables (leave the box above empty)
          </label>
          <div class="form-actions">
            <Button variant="secondary">Save variables</Button>
          </div>
        </form>
      )}
    </section>
  );
}

function EditSection(props: { site: SiteView; values: SiteFormValues; errors: FieldProblems }) {
  return (
    <section class="section" aria-labelledby="edit-heading">
      <h2 id="edit-heading">Settings</h2>
      <form class="narrow" method="post" action={`${sitePath(props.site)}/edit`}>
        <SiteFields values={props.values} errors={props.errors} hostDefault={false} />
        <Button>Save settings</Button>
      </form>
    </section>
  );
}

/** `/sites/:id`: one site, with the actions the user may take on it. */
export function SitePage(props: {
  user: PageUser | undefined;
  site: SiteView;
  canUpdate: boolean;
  canDelete: boolean;
  flash?: FlashMessage[];
  /** The edit form as posted, when it came back with problems. */
  edit?: { values: SiteFormValues; errors: FieldProblems };
  /** Why the env form was refused; the values posted are never shown again. */
  envError?: string;
}) {
  const { site } = props;
  return (
    <Layout title={site.domain} current="sites" user={props.user} flash={props.flash}>
      <div class="page-heading">
        <h1>{site.domain}</h1>
        <a href="/sites">Back to sites</a>
      </div>
      <Overview site={site} />
      <Actions site={site} canUpdate={props.canUpdate} canDelete={props.canDelete} />
      <EnvSection site={site} canUpdate={props.canUpdate} error={props.envError} />
      {props.canUpdate && (
        <EditSection
          site={site}
          values={props.edit?.values ?? storedValues(site)}
          errors={props.edit?.errors}
        />
      )}
    </Layout>
  );
}

/** The confirmation step before deleting a site: keep its files a while, or delete them now. */
export function DeleteSitePage(
  props: { user: PageUser | undefined; site: { id: string; domain: string } },
) {
  const { site } = props;
  return (
    <Layout title={`Delete ${site.domain}`} current="sites" user={props.user}>
      <div class="page-heading">
        <h1>Delete {site.domain}?</h1>
      </div>
      <div class="panel">
        <p>
          The site stops being served at once and its names and ports are freed. Its host stops the
          worker and removes the site's files as chosen below.
        </p>
        <form method="post" action={`${sitePath(site)}/delete`}>
          <input type="hidden" name="confirm" value="yes" />
          <fieldset>
            <legend>The site's files</legend>
            <div>
              <label>
                <input type="radio" name="purge" value="false" checked />{" "}
                Move them to the trash (kept 7 days)
              </label>
            </div>
            <div>
              <label>
                <input type="radio" name="purge" value="true" />{" "}
                Delete them now; this cannot be undone
              </label>
            </div>
          </fieldset>
          <div class="form-actions">
            <Button variant="danger">Delete {site.domain}</Button>
            <a href={sitePath(site)}>Cancel</a>
          </div>
        </form>
      </div>
    </Layout>
  );
}
