import { afterAll, beforeAll, expect, test } from "bun:test";
import { newId } from "../../db/ids.ts";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { addTestTenant } from "../../scripts/testing/members.ts";
import { insertEnrolledHost } from "../../scripts/testing/protocol-client.ts";
import { queueEcho } from "../../scripts/replicas/queue-commands.ts";
import { missedHostEvents } from "./host-events.ts";

let t: TestApp;
let tenantId: string;

beforeAll(async () => {
  t = await createTestApp();
  tenantId = await addTestTenant(t, "Acme");
});
afterAll(() => t.close());

// What the hub's catch-up after a lost LISTEN reads for every socket it holds (agent-hub.ts).
test("reads what missed events said for thousands of hosts, a gone host as revoked", async () => {
  const db = t.deps.database.db;
  const quiet = await insertEnrolledHost(db, tenantId, "quiet");
  const busy = await insertEnrolledHost(db, tenantId, "busy");
  const moved = await insertEnrolledHost(db, tenantId, "moved");
  const revoked = await insertEnrolledHost(db, tenantId, "revoked");
  await queueEcho(t, { id: busy.hostId, tenantId, name: "busy" }, 1);
  await t.database.rawSql(`update hosts set desired_revision = 7 where id = '${moved.hostId}'`);
  await t.database.rawSql(`update hosts set revoked_at = now() where id = '${revoked.hostId}'`);
  // More than one statement's worth of ids, the real hosts spread among hosts that do not exist.
  const gone = Array.from({ length: 2_500 }, () => newId("host"));
  const ids = [...gone.slice(0, 1_200), quiet.hostId, busy.hostId, ...gone.slice(1_200)];
  ids.push(moved.hostId, revoked.hostId);

  const missed = await missedHostEvents(db, ids);
  expect(missed.size).toBe(ids.length);
  expect(missed.get(quiet.hostId)).toEqual({ revoked: false, desiredRevision: 1, queued: false });
  expect(missed.get(busy.hostId)).toEqual({ revoked: false, desiredRevision: 1, queued: true });
  expect(missed.get(moved.hostId)).toEqual({ revoked: false, desiredRevision: 7, queued: false });
  expect(missed.get(revoked.hostId)?.revoked).toBe(true);
  expect(gone.every((id) => missed.get(id)?.revoked === true)).toBe(true);
  expect(await missedHostEvents(db, [])).toEqual(new Map());
});
