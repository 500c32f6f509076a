import { afterAll, describe, expect, test } from "bun:test";
import { openServerTestDatabase, openTestDatabase, type TestDatabase } from "../testing/db.ts";
import { waitFor } from "../testing/wait.ts";
import { reportMissingServer, SERVER_URL } from "../testing/server-only.ts";

// Database.listen's contract with the hub: `onListen` on every (re)subscription, and a stopped
// subscription stays silent even after its listening connection was replaced.
const opened: TestDatabase[] = [];
afterAll(() => Promise.all(opened.map((database) => database.close())));

const open = async (server: boolean) => {
  const database = server
    ? await openServerTestDatabase(SERVER_URL ?? "")
    : await openTestDatabase();
  opened.push(database);
  return database;
};
const notify = (database: TestDatabase, channel: string, payload: string) =>
  database.rawSql(`select pg_notify('${channel}', '${payload}')`);

test("onListen runs once subscribed, and payloads arrive after it", async () => {
  const database = await open(false);
  const payloads: string[] = [];
  let listens = 0;
  const stop = await database.listen("caddis_test_a", (p) => payloads.push(p), () => listens++);
  expect(listens).toBe(1);
  await notify(database, "caddis_test_a", "one");
  await waitFor("the payload", () => payloads.length === 1);
  expect(payloads).toEqual(["one"]);
  await stop();
});

const NAME = "a server's listening connection replaced";
reportMissingServer(NAME);

describe.skipIf(!SERVER_URL)(NAME, () => {
  test("runs onListen again, and a stopped subscription hears nothing more", async () => {
    const database = await open(true);
    const stopped: string[] = [];
    const sentinel: string[] = [];
    let listens = 0;
    const stop = await database.listen("caddis_test_b", (p) => stopped.push(p), () => listens++);
    const stopSentinel = await database.listen("caddis_test_c", (p) => sentinel.push(p));
    await database.rawSql(
      "select pg_terminate_backend(pid) from pg_stat_activity " +
        "where datname = current_database() and query ilike 'listen%'",
    );
    await waitFor("the subscription to come back", () => listens === 2);
    await stop();
    await notify(database, "caddis_test_b", "after stop");
    await notify(database, "caddis_test_c", "sentinel");
    // One connection delivers both channels in commit order: once the sentinel is here, the
    // stopped channel's payload would have been too.
    await waitFor("the sentinel", () => sentinel.length === 1);
    expect(stopped).toEqual([]);
    await stopSentinel();
  });
});
