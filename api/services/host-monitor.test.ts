import { afterAll, beforeAll, expect, test } from "bun:test";
import { newId } from "../../db/ids.ts";
import { hosts } from "../../db/schema.ts";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { addTestTenant } from "../../scripts/testing/members.ts";
import { waitFor } from "../../scripts/testing/wait.ts";
import { enqueueCommand, getHostCommand } from "./agent-commands.ts";
import { listOpenAlerts } from "./host-alerts.ts";
import { startHostMonitor } from "./host-monitor.ts";

const START = new Date("2030-01-01T12:00:00.000Z");
let clock = START;
let t: TestApp;
let tenantId: string;

beforeAll(async () => {
  t = await createTestApp({ now: () => clock });
  tenantId = await addTestTenant(t, "Acme");
});
afterAll(() => t.close());

test("each sweep expires overdue commands and raises offline alerts", async () => {
  const host = { id: newId("host"), tenantId, name: "web-1" };
  await t.deps.database.db.insert(hosts)
    .values({ ...host, enrolledAt: START, publicKey: "k", lastSeenAt: START });
  const command = await t.deps.database.db.transaction((tx) =>
    enqueueCommand(tx, t.deps, {
      host,
      siteId: null,
      kind: "test.monitor",
      payload: {},
      issuedBy: null,
      ttlMs: 60_000,
    })
  );
  clock = new Date(START.getTime() + 5 * 60_000);
  const stop = startHostMonitor(t.deps, 20);
  try {
    await waitFor(
      "the command to expire",
      async () =>
        (await getHostCommand(t.deps.database.db, host.id, command.id)).state === "expired",
    );
    await waitFor(
      "the offline alert",
      async () =>
        (await listOpenAlerts(t.deps.database.db, tenantId)).some((a) => a.hostId === host.id),
    );
  } finally {
    stop();
  }
});

test("a failing sweep is logged and the monitor keeps going", async () => {
  let failures = 0;
  const broken = {
    ...t.deps,
    now: () => {
      failures++;
      throw new Error("the clock is broken");
    },
  };
  const stop = startHostMonitor(broken, 20);
  try {
    await waitFor("two failed sweeps", () => failures >= 2);
    await waitFor(
      "the failure in the log",
      () => t.logText().includes("host monitor sweep failed"),
    );
  } finally {
    stop();
  }
  expect(t.logText()).toContain("the clock is broken");
});
