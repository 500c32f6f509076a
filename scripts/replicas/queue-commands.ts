// Commands of a test-only kind, written into the outbox by the same service verb the API uses. No
// route issues arbitrary kinds, and `host.diagnose` replaces a queued one, so this is how a test
// gets many commands waiting for one host.
import { PGlite } from "@electric-sql/pglite";
import {
  type CommandView,
  enqueueCommand,
  type HostRef,
} from "../../api/services/agent-commands.ts";
import { openDatabase } from "../../db/client.ts";
import { createTestApp, type TestApp } from "../testing/app.ts";
import type { TestDatabase } from "../testing/db.ts";
import { ECHO_KIND } from "./real-agent.ts";

/**
 * Opens the PGlite an API process kept in `dataDir` (the process must be stopped: a data dir has
 * one owner at a time).
 */
export async function openReplicaPglite(dataDir: string): Promise<TestDatabase> {
  const pglite = new PGlite(dataDir);
  const database = await openDatabase({ pglite });
  return {
    ...database,
    rawSql: async (query) => (await pglite.query<Record<string, unknown>>(query)).rows,
  };
}

/** Queues one ECHO_KIND command with payload `{n}` for `host` through the app `t`. */
export function queueEcho(t: TestApp, host: HostRef, n: number): Promise<CommandView> {
  return t.deps.database.db.transaction((tx) =>
    enqueueCommand(tx, t.deps, {
      host,
      siteId: null,
      kind: ECHO_KIND,
      payload: { n },
      issuedBy: null,
      ttlMs: 10 * 60_000,
    })
  );
}

/**
 * Queues `count` ECHO_KIND commands for `hostId`, payload `{n}` with n = 0…count-1, signed with
 * the installation's CADDIS_AGENT_SIGNING_KEY; returns their ids in order.
 */
export async function queueEchoCommands(
  database: TestDatabase,
  signingKey: string,
  hostId: string,
  count: number,
): Promise<string[]> {
  const t = await createTestApp({ database, env: { CADDIS_AGENT_SIGNING_KEY: signingKey } });
  try {
    const [row] = await database.rawSql(
      `select tenant_id, name from hosts where id = '${hostId.replaceAll("'", "''")}'`,
    );
    if (!row) throw new Error(`no host ${hostId}`);
    const host = { id: hostId, tenantId: String(row.tenant_id), name: String(row.name) };
    const ids: string[] = [];
    for (let n = 0; n < count; n++) ids.push((await queueEcho(t, host, n)).id);
    return ids;
  } finally {
    await t.close();
  }
}
