// How many connections a worker is still serving, read from the kernel's socket tables, so an
// old worker is stopped only once its in-flight requests have finished.
import { readFile } from "node:fs/promises";

const ESTABLISHED = "01";

/** Established TCP connections whose local end is `port` on this host, IPv4 and IPv6. */
export async function openConnections(port: number): Promise<number> {
  const tables = await Promise.all(
    ["/proc/net/tcp", "/proc/net/tcp6"].map((path) => readFile(path, "utf8").catch(() => "")),
  );
  return tables.reduce((sum, table) => sum + countEstablished(table, port), 0);
}

/** Counts the rows of a /proc/net/tcp table that are established and local to `port`. */
export function countEstablished(table: string, port: number): number {
  const wanted = port.toString(16).toUpperCase().padStart(4, "0");
  let count = 0;
  for (const row of table.split("\n").slice(1)) {
    // "sl local_address rem_address st …", addresses as HEXIP:HEXPORT
    const [, local, , state] = row.trim().split(/\s+/);
    if (state === ESTABLISHED && local?.endsWith(`:${wanted}`)) count += 1;
  }
  return count;
}
