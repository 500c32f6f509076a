import { sql } from "drizzle-orm";
import type { Database } from "../db/client.ts";
import { appliedMigrationCount, shippedMigrationCount } from "../db/migrate.ts";
import type { Logger } from "./log.ts";
import { syncRbacCatalogue } from "./services/rbac-catalogue.ts";

/** What `/readyz` and the status page report about the database. */
export interface ReadyReport {
  ready: boolean;
  database: { kind: Database["kind"]; reachable: boolean };
  migrations: { applied: number; shipped: number };
}

/** Tracks whether the schema is migrated; retries in the background until the database is up. */
export interface Readiness {
  /** True once this process has applied (or found) every shipped migration. */
  readonly migrated: boolean;
  /** Resolves after the first migration attempt, whatever its outcome. */
  readonly firstAttempt: Promise<void>;
  /** Pings the database now and reports. */
  check(): Promise<ReadyReport>;
  stop(): void;
}

const PING_TIMEOUT_MS = 2000;
const MAX_RETRY_MS = 30_000;

/** Starts migrating `database`, retrying with capped backoff while it is unreachable. */
export function startReadiness(
  database: Database,
  log: Logger,
  /** Runs once, after the schema is migrated (first-run setup hangs off this). */
  onMigrated?: () => Promise<void>,
): Readiness {
  const shipped = shippedMigrationCount();
  let migrated = false;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let delay = 1000;

  const attempt = async (): Promise<void> => {
    try {
      await database.migrate();
      await syncRbacCatalogue(database.db);
      migrated = true;
      log.info({ database: database.kind, migrations: shipped }, "database ready");
      await onMigrated?.().catch((err) =>
        log.error({ err }, "start-up task after migration failed")
      );
    } catch (err) {
      if (stopped) return;
      log.error(
        { err, database: database.location, retryInMs: delay },
        `Cannot prepare the database at ${database.location}: ${(err as Error).message}. ` +
          "Requests get 503 until it is reachable; retrying.",
      );
      timer = setTimeout(() => void attempt(), delay);
      delay = Math.min(delay * 2, MAX_RETRY_MS);
    }
  };

  return {
    get migrated() {
      return migrated;
    },
    firstAttempt: attempt(),
    async check() {
      let reachable = false;
      let applied = 0;
      try {
        await withTimeout(database.db.execute(sql`select 1`), PING_TIMEOUT_MS);
        reachable = true;
        // Once this process has migrated, the count is known; asking again would double the
        // cost of a probe that load balancers call several times a second.
        applied = migrated
          ? shipped
          : await withTimeout(appliedMigrationCount(database.db), PING_TIMEOUT_MS);
      } catch {
        // Unreachable is the answer here, not an error: the report says so.
      }
      return {
        ready: reachable && migrated && applied >= shipped,
        database: { kind: database.kind, reachable },
        migrations: { applied, shipped },
      };
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
