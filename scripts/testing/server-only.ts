// Tests that need a PostgreSQL server (several processes on one database, dropped connections)
// run on the suite's server, or on CADDIS_TEST_POSTGRES_URL during the embedded pass.
import { test } from "bun:test";
import { TEST_DATABASE_URL } from "./db.ts";
import { IN_CI } from "./tools.ts";

/** The server these tests create their databases on, if any. */
export const SERVER_URL: string | undefined = TEST_DATABASE_URL ??
  (process.env.CADDIS_TEST_POSTGRES_URL || undefined);

/**
 * Without a server, prints why `name` is skipped, or under CI=true registers it as a failure;
 * use with `describe.skipIf(!SERVER_URL)`.
 */
export function reportMissingServer(name: string): void {
  if (SERVER_URL) return;
  const reason =
    `"${name}" needs a PostgreSQL server: set DATABASE_URL or CADDIS_TEST_POSTGRES_URL`;
  if (IN_CI) {
    test(name, () => {
      throw new Error(`${reason} (CI=true turns this skip into a failure)`);
    });
  } else console.warn(`skip: ${reason}`);
}
