import { eq } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { authEpoch } from "../../db/schema.ts";

/**
 * A bounded cache whose entries hold only under the auth epoch they were read under. Triggers
 * bump the epoch in the same transaction as any change an auth answer depends on, so reading it
 * on every call makes a committed change show on the very next call, on every replica.
 */
export type EpochCache<K, V> = <L extends V | undefined>(
  key: K,
  load: () => Promise<L>,
  reuse?: (cached: V) => boolean,
) => Promise<V | L>;

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

/**
 * Builds an epoch cache over `db` that starts afresh past `maxEntries`. A call returns the cached
 * value when it was read under the current epoch and `reuse` (if given) accepts it; otherwise it
 * calls `load`, caching its answer, or forgetting the key when the answer is undefined.
 */
export function epochCache<K, V>(db: Db, maxEntries: number): EpochCache<K, V> {
  const readEpoch = authEpochReader(db);
  const entries = new Map<K, { epoch: number; value: V }>();
  return async (key, load, reuse) => {
    const epoch = await readEpoch();
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
  };
}
