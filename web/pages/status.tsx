/** @jsxImportSource hono/jsx */
import type { StatusReport } from "../../api/services/status.ts";
import { Badge } from "../components.tsx";
import { Layout } from "../layout.tsx";
import type { PageUser } from "../page-user.ts";

const RUNTIME_NAMES: Record<StatusReport["runtime"]["name"], string> = {
  bun: "Bun",
  deno: "Deno",
};

const DATABASE_KINDS: Record<StatusReport["database"]["kind"], string> = {
  embedded: "Embedded PGlite",
  server: "PostgreSQL server",
};

/** The status page: what is running, on which runtime and database, and whether it is ready. */
export function StatusPage(props: { report: StatusReport; user?: PageUser }) {
  const { report } = props;
  const migrated = report.migrations.applied >= report.migrations.shipped;
  return (
    <Layout title="Status" user={props.user}>
      <div class="page-heading">
        <h1>Status</h1>
        {report.ready ? <Badge state="ok">Ready</Badge> : <Badge state="error">Not ready</Badge>}
      </div>
      <dl class="facts">
        <dt>Version</dt>
        <dd>Caddis {report.version}</dd>
        <dt>Runtime</dt>
        <dd>{RUNTIME_NAMES[report.runtime.name]} {report.runtime.version}</dd>
        <dt>Database</dt>
        <dd>
          {DATABASE_KINDS[report.database.kind]} {report.database.reachable
            ? <Badge state="ok">Reachable</Badge>
            : <Badge state="error">Unreachable</Badge>}
        </dd>
        <dt>Migrations</dt>
        <dd>
          {report.database.reachable
            ? (
              <>
                {report.migrations.applied} of {report.migrations.shipped} applied {migrated
                  ? <Badge state="ok">Up to date</Badge>
                  : <Badge state="warn">Pending</Badge>}
              </>
            )
            // The report counts 0 applied when it cannot ask; say unknown rather than pending.
            : <>Unknown while the database is unreachable ({report.migrations.shipped} shipped)</>}
        </dd>
      </dl>
    </Layout>
  );
}
