/** @jsxImportSource hono/jsx */
import type { AuditEntryView } from "../../api/services/audit-search.ts";
import type { AuditVerification } from "../../api/services/audit-verify.ts";
import { Button, type FieldProblems, type FlashMessage } from "../components.tsx";
import type { AuditFilterForm } from "../handlers/audit-query.tsx";
import { Layout } from "../layout.tsx";
import type { PageUser } from "../page-user.ts";
import { EntriesTable } from "./audit-entries.tsx";
import { AuditFilterFormSection } from "./audit-filters.tsx";

/** The verdict of a chain check, as the flash message at the top of the page. */
export function verificationFlash(result: AuditVerification): FlashMessage {
  if (result.ok) {
    const head = result.head
      ? `; newest row #${result.head.seq}, hash ${result.head.hash}`
      : " (the log is empty)";
    return {
      kind: "success",
      text: `Audit chain intact: ${result.rowsChecked} rows checked${head}.`,
    };
  }
  const broken = result.firstBroken;
  return {
    kind: "error",
    text: `Audit chain broken at row #${broken?.seq ?? "?"}: ${broken?.reason ?? "unknown"}. ` +
      `The ${result.rowsChecked} rows before it check out.`,
  };
}

/** What the page shows below the filters: a page of rows, or nothing when the filters are bad. */
export interface AuditResults {
  entries: AuditEntryView[];
  /** The plain link to the next (older) page; none on the last page. */
  olderHref?: string;
  /** The filters in the export endpoint's terms, as `?…` without `format`. */
  exportSearch: string;
}

/** The audit log page: filters, exports, the entries and the chain check. */
export function AuditPage(props: {
  user: PageUser;
  values: AuditFilterForm;
  problems?: FieldProblems;
  results?: AuditResults;
  /** Where the verify form posts: `/audit/verify` with the filters, to come back to this view. */
  verifyAction: string;
  flash?: FlashMessage[];
}) {
  const { results } = props;
  const exportHref = (format: "csv" | "json") =>
    `/api/v1/audit/export?format=${format}${results?.exportSearch.replace(/^\?/, "&") ?? ""}`;
  return (
    <Layout title="Audit log" current="audit" user={props.user} flash={props.flash}>
      <div class="page-heading">
        <h1>Audit log</h1>
      </div>
      <AuditFilterFormSection values={props.values} problems={props.problems} />
      <section class="section" aria-labelledby="entries-heading">
        <h2 id="entries-heading">Entries</h2>
        {results
          ? (
            <>
              <EntriesTable entries={results.entries} olderHref={results.olderHref} />
              <p class="audit-exports">
                Export every entry matching these filters:{" "}
                <a href={exportHref("csv")} download>CSV</a>{" "}
                <a href={exportHref("json")} download>JSON</a>
              </p>
            </>
          )
          : <p class="muted">Fix the filters above to see entries.</p>}
      </section>
      <section class="section" aria-labelledby="chain-heading">
        <h2 id="chain-heading">Chain integrity</h2>
        <p>
          Each entry holds a hash of the one before it, so an edited or deleted row breaks the
          chain. Checking reads the whole log and is itself recorded.
        </p>
        <form method="post" action={props.verifyAction}>
          <Button variant="secondary">Verify chain</Button>
        </form>
      </section>
    </Layout>
  );
}
