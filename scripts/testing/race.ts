import type { Database, Tx } from "../../db/client.ts";

/**
 * Runs `n` transactions of `body` at once. On a server every transaction has started (and holds
 * its own connection) before any of them proceeds, so they truly race; PGlite runs transactions
 * one at a time, so there they queue and the barrier is skipped.
 */
export function raceTransactions<T>(
  database: Database,
  n: number,
  body: (tx: Tx) => Promise<T>,
): Promise<T[]> {
  const all = (run: (tx: Tx) => Promise<T>) =>
    Promise.all(Array.from({ length: n }, () => database.db.transaction(run)));
  if (database.kind !== "server") return all(body);
  let arrived = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let release = () => {};
  const allIn = new Promise<void>((resolve, reject) => {
    release = () => {
      clearTimeout(timer);
      resolve();
    };
    timer = setTimeout(
      () => reject(new Error(`only ${arrived}/${n} transactions started`)),
      10_000,
    );
  });
  // Handled here too, so a deadline that fires before anyone awaits is no unhandled rejection.
  allIn.catch(() => {});
  return all(async (tx) => {
    // The callback runs once BEGIN has gone out on its own connection: the transaction is live.
    if (++arrived === n) release();
    await allIn;
    return body(tx);
  });
}
