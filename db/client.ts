import { PGlite } from "@electric-sql/pglite";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { migrateEmbedded, migrateServer } from "./migrate.ts";
import * as schema from "./schema.ts";
import { serverClient } from "./server-url.ts";

/** The drizzle handle services use; the same type whichever driver is underneath. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

/** A transaction handle, passed to verbs that must write in the caller's transaction. */
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

/** An open database: embedded PGlite or a PostgreSQL server, behind one interface. */
export interface Database {
  db: Db;
  /**
   * For writes an agent sends again when they are lost (command acknowledgements and results,
   * delivery marks, last-seen times, observed state): on a server they commit without waiting for
   * the WAL to reach the disk (`synchronous_commit` off). A crash can undo the last few, never half
   * of one, and the agent's reconnect brings them back from its journal. On PGlite it is `db`.
   */
  relaxedDb: Db;
  kind: "embedded" | "server";
  /** Where the data lives, for display: a directory, or the server URL without its password. */
  location: string;
  /** Applies pending migrations (safe to call from several replicas at once). */
  migrate(): Promise<void>;
  /**
   * Subscribes to a PostgreSQL `NOTIFY` channel (delivered after the sending transaction commits);
   * resolves once listening, with a function that stops it. On a server this holds one dedicated
   * connection for all channels, which reconnects with backoff when it drops. `onListen` runs on
   * every successful (re)subscription (once on PGlite): notifications sent while the connection
   * was down are lost, so a caller may need to catch up after the first.
   */
  listen(
    channel: string,
    onPayload: (payload: string) => void,
    onListen?: () => void,
  ): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/**
 * Connections kept to a PostgreSQL server by default. Few on purpose: postgres-js hands each
 * query to the connection idle longest, so every connection of the pool takes its turn and each
 * server backend does a share of the work. With 1,000 agents and 200 commands a second, 4 gave a
 * lower p99 and PostgreSQL less CPU per command than 10 (interleaved runs, this machine).
 */
export const DEFAULT_POOL_SIZE = 4;

/**
 * Opens PGlite from `dataDir` (created on first use), an in-memory PGlite, or a server URL with
 * `poolSize` connections (plus half as many, at least 2, for relaxed writes).
 */
export async function openDatabase(
  target: { url: string; poolSize?: number } | { dataDir: string } | { pglite: PGlite },
): Promise<Database> {
  if ("url" in target) {
    const options = { connect_timeout: 5, idle_timeout: 60, onnotice: () => {} };
    const poolSize = target.poolSize ?? DEFAULT_POOL_SIZE;
    const client = serverClient(target.url, { ...options, max: poolSize });
    const relaxed = serverClient(target.url, {
      ...options,
      max: Math.max(2, Math.ceil(poolSize / 2)),
      connection: { synchronous_commit: "off" },
    });
    const drizzleOf = (pool: PostgresClient) =>
      drizzlePostgres({ client: preparingEverything(pool), schema }) as unknown as Db;
    return {
      db: drizzleOf(client),
      relaxedDb: drizzleOf(relaxed),
      kind: "server",
      location: displayUrl(target.url),
      migrate: () => migrateServer(target.url),
      async listen(channel, onPayload, onListen) {
        // After a reconnect postgres-js holds the listener under a new identity that its
        // `unlisten` no longer finds, so this flag is what reliably stops the callbacks.
        let active = true;
        const { unlisten } = await client.listen(channel, (payload) => {
          if (active) onPayload(payload);
        }, () => {
          if (active) onListen?.();
        });
        return async () => {
          active = false;
          await unlisten();
        };
      },
      async close() {
        await Promise.all([client.end({ timeout: 5 }), relaxed.end({ timeout: 5 })]);
      },
    };
  }
  const client = "pglite" in target ? target.pglite : new PGlite(target.dataDir);
  await client.waitReady;
  const db = drizzlePglite({ client, schema }) as unknown as Db;
  return {
    db,
    // One process writes the embedded database: there is no second connection to relax.
    relaxedDb: db,
    kind: "embedded",
    location: "dataDir" in target ? target.dataDir : "memory",
    migrate: () => migrateEmbedded(client),
    async listen(channel, onPayload, onListen) {
      // In-process, the subscription cannot drop: it is established exactly once.
      const unlisten = await client.listen(channel, onPayload);
      onListen?.();
      return unlisten;
    },
    close: () => client.close(),
  };
}

type PostgresClient = ReturnType<typeof postgres>;

/**
 * Drizzle asks postgres-js to prepare only statements given a name, so PostgreSQL parses and
 * plans every other one each time it runs; on the agent command path, with its CTE statements,
 * that was a quarter of the database's CPU. This makes every statement a prepared one, cached per
 * connection by its text (the texts are fixed, apart from lists whose length varies), inside
 * transactions too.
 */
function preparingEverything<T extends PostgresClient>(client: T): T {
  return new Proxy(client, {
    get(target, property, receiver) {
      if (property === "unsafe") {
        return (query: string, params?: unknown[], options?: Record<string, unknown>) =>
          target.unsafe(query, params as never, { ...options, prepare: true });
      }
      if (property === "begin" || property === "savepoint") {
        const original = Reflect.get(target, property, receiver) as (...args: unknown[]) => unknown;
        return (...args: unknown[]) => {
          const run = args.pop() as (inner: PostgresClient) => unknown;
          return original.call(
            target,
            ...args,
            (inner: PostgresClient) => run(preparingEverything(inner)),
          );
        };
      }
      return Reflect.get(target, property, receiver);
    },
  });
}

/** The URL without credentials, safe to show and log. */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = parsed.username ? "***" : "";
    parsed.password = "";
    return parsed.toString();
  } catch {
    return "postgres://(unparseable URL)";
  }
}
