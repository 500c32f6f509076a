import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { newId } from "../../db/ids.ts";
import { hosts } from "../../db/schema.ts";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { addTestTenant } from "../../scripts/testing/members.ts";
import {
  expireOverdueCommands,
  markCommandRunning,
  takeCommandsForDelivery,
} from "./agent-command-delivery.ts";
import { enqueueCommand, getHostCommand, type HostRef } from "./agent-commands.ts";

const START = new Date("2030-01-01T12:00:00.000Z");
let clock = START;
let t: TestApp;
let tenantId: string;

beforeAll(async () => {
  t = await createTestApp({ now: () => clock });
  tenantId = await addTestTenant(t, "Acme");
});
afterAll(() => t.close());

const minutes = (n: number) => new Date(START.getTime() + n * 60_000);

async function addHost(name: string): Promise<HostRef> {
  const id = newId("host");
  await t.deps.database.db.insert(hosts)
    .values({ id, tenantId, name, enrolledAt: START, publicKey: "k" });
  return { id, tenantId, name };
}

async function enqueue(
  host: HostRef,
  siteId: string | null,
  options: { ttlMs?: number; notBefore?: Date } = {},
): Promise<string> {
  const command = await t.deps.database.db.transaction((tx) =>
    enqueueCommand(tx, t.deps, {
      host,
      siteId,
      kind: "test.step",
      payload: {},
      issuedBy: null,
      ttlMs: options.ttlMs ?? 60 * 60_000,
      notBefore: options.notBefore,
    })
  );
  return command.id;
}

const db = () => t.deps.database.db;
const deliverable = async (host: HostRef, at = clock) =>
  (await takeCommandsForDelivery(db(), host.id, at)).commands.map((c) => c.id);
const command = (host: HostRef, id: string) => getHostCommand(db(), host.id, id);
const finish = (id: string) =>
  t.database.rawSql(`update agent_commands set state = 'succeeded' where id = '${id}'`);
// Setup only: a command written to an earlier socket, as the outbox leaves it.
const markSent = (ids: string[]) =>
  t.database.rawSql(
    `update agent_commands set state = 'sent', deliveries = 1
     where id in (${ids.map((id) => `'${id}'`).join(", ")})`,
  );

describe("takeCommandsForDelivery", () => {
  test("hands out only the oldest open command per site, the host and two sites in parallel", async () => {
    clock = START;
    const host = await addHost("web-1");
    const h1 = await enqueue(host, null);
    const a1 = await enqueue(host, "site_a");
    const h2 = await enqueue(host, null);
    const a2 = await enqueue(host, "site_a");
    const b1 = await enqueue(host, "site_b");
    expect(new Set(await deliverable(host))).toEqual(new Set([h1, a1, b1]));
    await finish(a1);
    expect(new Set(await deliverable(host))).toEqual(new Set([h1, a2, b1]));
    await finish(h1);
    await finish(b1);
    expect(new Set(await deliverable(host))).toEqual(new Set([h2, a2]));
  });

  test("returns the signed body and signature exactly as stored", async () => {
    clock = START;
    const host = await addHost("web-2");
    const id = await enqueue(host, "site_x");
    const [delivered] = (await takeCommandsForDelivery(db(), host.id, clock)).commands;
    const [row] = await t.database.rawSql(
      `select body, signature from agent_commands where id = '${id}'`,
    );
    expect(delivered).toEqual({
      id,
      siteId: "site_x",
      body: String(row?.body),
      signature: String(row?.signature),
    });
  });

  test("re-sends sent and running commands, ahead of queued ones", async () => {
    clock = START;
    const host = await addHost("web-3");
    const h = await enqueue(host, null);
    const a = await enqueue(host, "site_a");
    const b = await enqueue(host, "site_b");
    await markSent([b, a]);
    await markCommandRunning(db(), host.id, a, clock);
    const order = await deliverable(host);
    expect(order.slice(0, 2).sort()).toEqual([a, b].sort());
    expect(order[2]).toBe(h);
  });

  test("holds back a head that may not run yet, and what queues behind it", async () => {
    clock = START;
    const host = await addHost("web-4");
    const later = await enqueue(host, "site_a", { notBefore: minutes(10) });
    const behind = await enqueue(host, "site_a");
    const now = await enqueue(host, "site_b");
    expect(await deliverable(host)).toEqual([now]);
    // The outbox wakes itself then: nothing else may happen on the host meanwhile.
    expect((await takeCommandsForDelivery(db(), host.id, clock)).heldUntil).toEqual(minutes(10));
    // `now` went out on the passes before, so it leads as a re-sent command.
    expect(await deliverable(host, minutes(10))).toEqual([now, later]);
    expect((await takeCommandsForDelivery(db(), host.id, minutes(10))).heldUntil).toBeNull();
    await finish(later);
    expect(await deliverable(host, minutes(10))).toEqual([now, behind]);
  });

  test("expires overdue queued and sent commands first, but never a running one", async () => {
    clock = START;
    const host = await addHost("web-5");
    const queued = await enqueue(host, "site_q", { ttlMs: 60_000 });
    const nextQueued = await enqueue(host, "site_q");
    const sent = await enqueue(host, "site_s", { ttlMs: 60_000 });
    const running = await enqueue(host, "site_r", { ttlMs: 60_000 });
    await markSent([sent, running]);
    await markCommandRunning(db(), host.id, running, clock);
    const later = minutes(2);
    expect(new Set(await deliverable(host, later))).toEqual(new Set([running, nextQueued]));
    for (const id of [queued, sent]) {
      const view = await command(host, id);
      expect(view.state).toBe("expired");
      expect(view.error).toBe("expired before the agent ran it");
      expect(view.finishedAt).toBe(later.toISOString());
    }
    expect((await command(host, running)).state).toBe("running");
  });
});

describe("delivery counts and markCommandRunning", () => {
  test("sent once from queued; later deliveries only count; running never moves back", async () => {
    clock = START;
    const host = await addHost("db-1");
    const id = await enqueue(host, null);
    await takeCommandsForDelivery(db(), host.id, START);
    expect(await command(host, id)).toMatchObject({
      state: "sent",
      sentAt: START.toISOString(),
      deliveries: 1,
    });
    await takeCommandsForDelivery(db(), host.id, minutes(1));
    expect(await command(host, id)).toMatchObject({
      state: "sent",
      sentAt: START.toISOString(),
      deliveries: 2,
    });
    await markCommandRunning(db(), host.id, id, minutes(2));
    await takeCommandsForDelivery(db(), host.id, minutes(3));
    expect(await command(host, id)).toMatchObject({
      state: "running",
      startedAt: minutes(2).toISOString(),
      deliveries: 3,
    });
  });

  test("what the socket already carries, or may not run yet, is not counted again", async () => {
    clock = START;
    const host = await addHost("db-4");
    const carried = await enqueue(host, "site_a");
    const later = await enqueue(host, "site_b", { notBefore: minutes(10) });
    const fresh = await enqueue(host, "site_c");
    const plan = await takeCommandsForDelivery(db(), host.id, START, new Set([carried]));
    expect(plan.commands.map((c) => c.id).sort()).toEqual([carried, fresh].sort());
    expect(await command(host, carried)).toMatchObject({ state: "queued", deliveries: 0 });
    expect(await command(host, later)).toMatchObject({ state: "queued", deliveries: 0 });
    expect(await command(host, fresh)).toMatchObject({ state: "sent", deliveries: 1 });
  });

  test("an acknowledgement never revives an ended command, nor touches another host's", async () => {
    clock = START;
    const host = await addHost("db-2");
    const other = await addHost("db-3");
    const ended = await enqueue(host, null);
    const theirs = await enqueue(other, null);
    await t.database.rawSql(`update agent_commands set state = 'cancelled' where id = '${ended}'`);
    await markCommandRunning(db(), host.id, ended, clock);
    await markCommandRunning(db(), host.id, theirs, clock);
    await takeCommandsForDelivery(db(), host.id, clock);
    expect(await command(host, ended)).toMatchObject({ state: "cancelled", deliveries: 0 });
    expect((await command(other, theirs)).state).toBe("queued");
  });
});

describe("expireOverdueCommands", () => {
  test("ends every host's overdue undelivered commands by the clock, leaving running ones", async () => {
    clock = START;
    const host = await addHost("sweep-1");
    const other = await addHost("sweep-2");
    const overdue = await enqueue(host, null, { ttlMs: 60_000 });
    const overdueSent = await enqueue(other, null, { ttlMs: 60_000 });
    const running = await enqueue(other, "site_r", { ttlMs: 60_000 });
    const fresh = await enqueue(host, "site_f", { ttlMs: 10 * 60_000 });
    await markSent([overdueSent, running]);
    await markCommandRunning(db(), other.id, running, clock);
    clock = minutes(5);
    expect(await expireOverdueCommands(t.deps)).toBe(2);
    expect((await command(host, overdue)).state).toBe("expired");
    expect((await command(other, overdueSent)).state).toBe("expired");
    expect((await command(other, running)).state).toBe("running");
    expect((await command(host, fresh)).state).toBe("queued");
  });
});
