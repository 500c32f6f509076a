import { PGlite } from "@electric-sql/pglite";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { migrateEmbedded, migrateServer } from "./migrate.ts";
import * as schema from "./schema.ts";

/** The drizzle handle services use; the same type whichever driver is underneath. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

/** A transaction handle, passed to verbs that must write in the caller's transaction. */
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

/** An open database: embedded PGlite or a PostgreSQL server, behind one interface. */
export interface Database {
  db: Db;
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

/** Opens PGlite from `dataDir` (created on first use), an in-memory PGlite, or a server URL. */
export async function openDatabase(
  target: { url: string } | { dataDir: string } | { pglite: PGlite },
): Promise<Database> {
  if ("url" in target) {
    const client = postgres(target.url, {
      max: 10,
      connect_timeout: 5,
      idle_timeout: 60,
      onnotice: () => {},
    });
    return {
      db: drizzlePostgres({ client, schema }) as unknown as Db,
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
      close: () => client.end({ timeout: 5 }),
    };
  }
  const client = "pglite" in target ? target.pglite : new PGlite(target.dataDir);
  await client.waitReady;
  return {
    db: drizzlePglite({ client, schema }) as unknown as Db,
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
