import { afterAll, beforeAll, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { newId } from "../../db/ids.ts";
import { hosts, tenants } from "../../db/schema.ts";
import { openTestDatabase, type TestDatabase } from "../../scripts/testing/db.ts";
import { helloFrame, insertEnrolledHost } from "../../scripts/testing/protocol-client.ts";
import { markDisconnected, recordHello, releaseReplica, touchLastSeen } from "./agent-sessions.ts";

let database: TestDatabase;
let tenantId: string;

beforeAll(async () => {
  database = await openTestDatabase();
  tenantId = newId("ten");
  await database.db.insert(tenants).values({ id: tenantId, name: "Acme" });
});
afterAll(() => database.close());

async function row(hostId: string) {
  const [found] = await database.db.select().from(hosts).where(eq(hosts.id, hostId));
  if (!found) throw new Error(`no host ${hostId}`);
  return found;
}

test("last_seen_at is written for every listed host in one statement, and only for them", async () => {
  const listed = await Promise.all(
    ["a", "b", "c"].map((name) => insertEnrolledHost(database.db, tenantId, `seen-${name}`)),
  );
  const other = await insertEnrolledHost(database.db, tenantId, "not-seen");
  const at = new Date("2030-01-01T00:00:00Z");
  await touchLastSeen(database.db, listed.map((h) => h.hostId), at);
  for (const host of listed) expect((await row(host.hostId)).lastSeenAt).toEqual(at);
  expect((await row(other.hostId)).lastSeenAt).toBeNull();
  await touchLastSeen(database.db, [], at);
});

test("a host revoked after its challenge is not marked connected by its hello", async () => {
  const host = await insertEnrolledHost(database.db, tenantId, "revoked-late");
  await database.db.update(hosts).set({ revokedAt: new Date() }).where(eq(hosts.id, host.hostId));
  expect(await recordHello(database.db, host.hostId, helloFrame(), "rep_a", new Date())).toBe(
    false,
  );
  expect((await row(host.hostId)).connectedReplica).toBeNull();
});

test("a replica marks a host disconnected only while it still holds it", async () => {
  const host = await insertEnrolledHost(database.db, tenantId, "moved");
  expect(await recordHello(database.db, host.hostId, helloFrame(), "rep_a", new Date())).toBe(true);
  // The agent reconnected to replica B before A noticed its old socket was dead.
  expect(await recordHello(database.db, host.hostId, helloFrame(), "rep_b", new Date())).toBe(true);
  await markDisconnected(database.db, host.hostId, "rep_a");
  await releaseReplica(database.db, "rep_a");
  expect((await row(host.hostId)).connectedReplica).toBe("rep_b");
  await releaseReplica(database.db, "rep_b");
  expect((await row(host.hostId)).connectedReplica).toBeNull();
});
