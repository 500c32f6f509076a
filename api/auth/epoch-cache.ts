import { eq } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { authEpoch } from "../../db/schema.ts";

/**
 * A bounded cache whose entries hold only under the auth epoch they were read under. Triggers
 * bump the epoch in the same transaction as any change an auth answer depends on, so reading it
 * on every request makes a committed change show on the very next request, on every replica.
 * A request reads it once: its session (or API token) check and its grants check both go by
 * the epoch read when the request was admitted.
 */
export interface EpochCache<K, V> {
  /** The current epoch, read from the database. */
  readEpoch(): Promise<number>;
  /**
   * The value cached for `key` under `epoch` when `reuse` (if given) accepts it; otherwise what
   * `load` answers, cached under `epoch`, or the key forgotten when the answer is undefined.
   */
  get<L extends V | undefined>(
    key: K,
    epoch: number,
    load: () => Promise<L>,
    reuse?: (cached: V) => boolean,
  ): Promise<V | L>;
}

// Keyed by the database each check is built on, so the checks share one prepared statement.
const epochReaders = new WeakMap<Db, () => Promise<number>>();

function authEpochReader(db: Db): () => Promise<number> {
  let reader = epochReaders.get(db);
  if (!reader) {
    const statement = db
      .select({ epoch: authEpoch.epoch })
      .from(authEpoch)
      .where(eq(authEpoch.id, true))
      .prepare("caddis_auth_epoch");
    reader = async () => (await statement.execute())[0]?.epoch ?? -1;
    epochReaders.set(db, reader);
  }
  return reader;
}

/** Builds an epoch cache over `db` that starts afresh past `maxEntries`. */
export function epochCache<K, V>(db: Db, maxEntries: number): EpochCache<K, V> {
  const entries = new Map<K, { epoch: number; value: V }>();
  return {
    readEpoch: authEpochReader(db),
    async get(key, epoch, load, reuse) {
      const cached = entries.get(key);
      if (cached?.epoch === epoch && (reuse?.(cached.value) ?? true)) return cached.value;
      const value = await load();
      if (value === undefined) {
        entries.delete(key);
        return value;
      }
      if (entries.size >= maxEntries) entries.clear();
      entries.set(key, { epoch, value: value as V });
      return value;
    },
  };
}
