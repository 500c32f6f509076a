import type { AppDeps } from "../deps.ts";

/** What the status page and `GET /api/v1/status` show. */
export interface StatusReport {
  version: string;
  runtime: { name: "bun" | "deno"; version: string };
  database: { kind: "embedded" | "server"; reachable: boolean };
  migrations: { applied: number; shipped: number };
  ready: boolean;
}

/** Collects the running instance's version, runtime and database state. */
export async function statusReport(deps: AppDeps): Promise<StatusReport> {
  const ready = await deps.readiness.check();
  return {
    version: deps.version,
    runtime: deps.runtime,
    database: ready.database,
    migrations: ready.migrations,
    ready: ready.ready,
  };
}
