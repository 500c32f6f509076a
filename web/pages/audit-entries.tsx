/** @jsxImportSource hono/jsx */
import type { AuditEntryView } from "../../api/services/audit-search.ts";
import { Badge, type BadgeState } from "../components.tsx";

const HEADERS = ["Time (UTC)", "Actor", "Action", "Resource", "Outcome", "IP address", "Details"];
const PREVIEW_LENGTH = 80;

const OUTCOME_STATE: Record<AuditEntryView["outcome"], BadgeState> = {
  success: "ok",
  failure: "error",
  denied: "warn",
};

/** To the second, unlike the shared Time: audit rows a few seconds apart must read as ordered. */
function AuditTime(props: { at: string }) {
  return <time datetime={props.at}>{`${props.at.slice(0, 10)} ${props.at.slice(11, 19)}`}</time>;
}

/** The details JSON on one line, cut short; the full entry sits in the `<details>` below it. */
export function detailsPreview(details: Record<string, unknown>): string {
  const json = JSON.stringify(details);
  if (json === "{}") return "no details";
  return json.length > PREVIEW_LENGTH ? `${json.slice(0, PREVIEW_LENGTH - 1)}…` : json;
}

function EntryDetails(props: { entry: AuditEntryView }) {
  const { entry } = props;
  const facts: [string, string | null][] = [
    ["Entry", `#${entry.seq} ${entry.id}`],
    ["Tenant", entry.tenantId],
    ["User agent", entry.userAgent],
    ["Request", entry.requestId],
  ];
  return (
    <details class="audit-details">
      <summary>{detailsPreview(entry.details)}</summary>
      <dl>
        {facts.filter(([, value]) => value !== null).map(([label, value]) => (
          <>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </>
        ))}
      </dl>
      <pre>{JSON.stringify(entry.details, null, 2)}</pre>
    </details>
  );
}

function EntryRow(props: { entry: AuditEntryView }) {
  const { entry } = props;
  return (
    <tr>
      <td>
        <AuditTime at={entry.occurredAt} />
      </td>
      <td>
        <span class="muted">{entry.actorKind}</span> {entry.actorId && <code>{entry.actorId}</code>}
      </td>
      <td>
        <code>{entry.action}</code>
      </td>
      <td>
        {entry.resourceType ?? ""} {entry.resourceId && <code>{entry.resourceId}</code>}
      </td>
      <td>
        <Badge state={OUTCOME_STATE[entry.outcome]}>{entry.outcome}</Badge>
      </td>
      <td>{entry.ip ?? ""}</td>
      <td>
        <EntryDetails entry={entry} />
      </td>
    </tr>
  );
}

/**
 * One page of rows, then a row holding the "Older entries" link. The link is a plain link to the
 * next page; with htmx it swaps itself for the next page's rows (and their own link), so the
 * table grows in place. The fragment htmx gets is exactly this component.
 */
export function EntryRows(props: { entries: AuditEntryView[]; olderHref?: string }) {
  return (
    <>
      {props.entries.map((entry) => <EntryRow entry={entry} />)}
      {props.olderHref && (
        <tr class="audit-older">
          <td colspan={HEADERS.length}>
            <a
              href={props.olderHref}
              hx-get={props.olderHref}
              hx-target="closest tr"
              hx-swap="outerHTML"
            >
              Older entries
            </a>
          </td>
        </tr>
      )}
    </>
  );
}

/** The entries table, newest first; wide, so it scrolls sideways like the shared Table. */
export function EntriesTable(props: { entries: AuditEntryView[]; olderHref?: string }) {
  return (
    <div class="table-scroll" role="region" aria-label="Audit entries" tabindex={0}>
      <table class="audit-table">
        <caption>Audit entries, newest first</caption>
        <thead>
          <tr>
            {HEADERS.map((header) => <th scope="col">{header}</th>)}
          </tr>
        </thead>
        <tbody id="audit-rows">
          {props.entries.length === 0
            ? (
              <tr>
                <td class="table-empty" colspan={HEADERS.length}>
                  No entries match these filters.
                </td>
              </tr>
            )
            : <EntryRows entries={props.entries} olderHref={props.olderHref} />}
        </tbody>
      </table>
    </div>
  );
}
