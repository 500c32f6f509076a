import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CommandEnvelope } from "../../agent/protocol/commands.ts";
import { commandMessage, importPublicKey, verifyText } from "../../agent/protocol/signing.ts";
import { newId } from "../../db/ids.ts";
import { hosts } from "../../db/schema.ts";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { memberAccess } from "../../scripts/testing/auth.ts";
import { addTestTenant } from "../../scripts/testing/members.ts";
import { waitFor } from "../../scripts/testing/wait.ts";
import { recordHostEvents } from "../../scripts/testing/host-events.ts";
import { AppError } from "../errors.ts";
import {
  cancelCommand,
  cancelOpenCommands,
  enqueueCommand,
  type EnqueueCommandInput,
  getHostCommand,
  type HostRef,
  listHostCommands,
} from "./agent-commands.ts";
import type { AuditContext } from "./audit.ts";
import type { HostEvent } from "./host-events.ts";

let t: TestApp;
let tenantId: string;
let otherTenantId: string;
let events: HostEvent[];
let stopListening: () => Promise<void>;
const userAudit: AuditContext = { actor: { kind: "user", id: "usr_root" } };

beforeAll(async () => {
  t = await createTestApp();
  tenantId = await addTestTenant(t, "Acme");
  otherTenantId = await addTestTenant(t, "Globex");
  ({ events, stop: stopListening } = await recordHostEvents(t.deps.database));
});
afterAll(async () => {
  await stopListening();
  await t.close();
});

async function addHost(name: string, tenant = tenantId): Promise<HostRef> {
  const id = newId("host");
  await t.deps.database.db.insert(hosts)
    .values({ id, tenantId: tenant, name, enrolledAt: new Date(), publicKey: "k" });
  return { id, tenantId: tenant, name };
}

function enqueue(input: Partial<EnqueueCommandInput> & { host: HostRef }) {
  return t.deps.database.db.transaction((tx) =>
    enqueueCommand(tx, t.deps, {
      siteId: null,
      kind: "host.diagnose",
      payload: {},
      issuedBy: null,
      ...input,
    })
  );
}

async function failure(promise: Promise<unknown>): Promise<AppError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  if (!(err instanceof AppError)) throw new Error(`expected an AppError, got ${String(err)}`);
  return err;
}

async function stored(id: string) {
  const [row] = await t.database.rawSql(
    `select state, body, signature, error, finished_at from agent_commands where id = '${id}'`,
  );
  return row;
}

describe("enqueueCommand", () => {
  test("stores a body the agent can verify against the API's public key, and only that body", async () => {
    const host = await addHost("web-1");
    const command = await enqueue({ host, siteId: "site_a", issuedBy: "usr_root" });
    const row = await stored(command.id);
    const body = String(row?.body);
    const signature = String(row?.signature);
    const envelope = CommandEnvelope.parse(JSON.parse(body));
    expect(envelope).toEqual({
      id: command.id,
      hostId: host.id,
      siteId: "site_a",
      kind: "host.diagnose",
      payload: {},
      issuedAt: command.createdAt,
      notBefore: command.notBefore,
      expiresAt: command.expiresAt,
    });
    // host.diagnose lives ten minutes.
    expect(Date.parse(command.expiresAt) - Date.parse(command.notBefore)).toBe(10 * 60_000);
    const key = await importPublicKey(t.deps.commandSigner.publicKey);
    expect(await verifyText(key, commandMessage(body), signature)).toBe(true);
    const tampered = body.replace(host.id, "host_someoneelse");
    expect(await verifyText(key, commandMessage(tampered), signature)).toBe(false);
    expect(command).toMatchObject({ state: "queued", deliveries: 0, issuedBy: "usr_root" });
    expect(Object.keys(command)).not.toContain("body");
    expect(Object.keys(command)).not.toContain("signature");
  });

  test("refuses unknown kinds unless given a lifetime, and payloads the kind's schema rejects", async () => {
    const host = await addHost("web-2");
    const unknown = await failure(enqueue({ host, kind: "test.echo" }));
    expect(unknown.code).toBe("invalid_input");
    expect(unknown.message).toContain("test.echo");
    const bad = await failure(enqueue({ host, payload: { verbose: true } }));
    expect(bad.code).toBe("invalid_input");
    expect(bad.message).toContain("host.diagnose");
    expect((await failure(enqueue({ host, kind: "Not A Kind", ttlMs: 1000 }))).code)
      .toBe("invalid_input");
    const custom = await enqueue({ host, kind: "test.echo", payload: { n: 1 }, ttlMs: 5_000 });
    expect(custom.payload).toEqual({ n: 1 });
    expect(Date.parse(custom.expiresAt) - Date.parse(custom.notBefore)).toBe(5_000);
    expect(await listHostCommands(t.deps.database.db, host.id, { limit: 10 })).toHaveLength(1);
  });

  test("a later not-before moves the expiry with it", async () => {
    const host = await addHost("web-3");
    const notBefore = new Date(Date.now() + 60 * 60_000);
    const command = await enqueue({ host, kind: "test.later", ttlMs: 1_000, notBefore });
    expect(command.notBefore).toBe(notBefore.toISOString());
    expect(command.expiresAt).toBe(new Date(notBefore.getTime() + 1_000).toISOString());
  });

  test("a newer command of a superseding kind replaces only queued ones for the same site", async () => {
    const host = await addHost("web-4");
    const first = await enqueue({ host });
    const otherSite = await enqueue({ host, siteId: "site_b" });
    const second = await enqueue({ host });
    expect(await stored(first.id)).toMatchObject({
      state: "superseded",
      error: `superseded by ${second.id}`,
    });
    expect((await stored(first.id))?.finished_at).not.toBeNull();
    expect((await stored(otherSite.id))?.state).toBe("queued");
    expect((await stored(second.id))?.state).toBe("queued");
    // Kinds without `supersedes` queue up.
    const a = await enqueue({ host, kind: "test.queue", ttlMs: 60_000 });
    await enqueue({ host, kind: "test.queue", ttlMs: 60_000 });
    expect((await stored(a.id))?.state).toBe("queued");
  });

  test("wakes the host's socket when the transaction commits, and never when it rolls back", async () => {
    const rolledBack = await addHost("web-5");
    const committed = await addHost("web-6");
    await t.deps.database.db.transaction(async (tx) => {
      await enqueueCommand(tx, t.deps, {
        host: rolledBack,
        siteId: null,
        kind: "host.diagnose",
        payload: {},
        issuedBy: null,
      });
      tx.rollback();
    }).catch(() => {});
    expect(await listHostCommands(t.deps.database.db, rolledBack.id, { limit: 10 })).toEqual([]);
    await enqueue({ host: committed });
    const woke = (id: string) => events.some((e) => e.event === "commands" && e.hostId === id);
    await waitFor("the commit's notification", () => woke(committed.id));
    expect(woke(rolledBack.id)).toBe(false);
  });
});

describe("cancelCommand", () => {
  test("cancels a queued or sent command, audited, and wakes the socket", async () => {
    const host = await addHost("db-1");
    const queued = await enqueue({ host, kind: "test.cancel", ttlMs: 60_000 });
    const sent = await enqueue({ host, siteId: "site_s", kind: "test.cancel", ttlMs: 60_000 });
    await t.database.rawSql(`update agent_commands set state = 'sent' where id = '${sent.id}'`);
    const access = memberAccess(["hosts.update"], tenantId);
    for (const command of [queued, sent]) {
      const view = await cancelCommand(t.deps, access, userAudit, host.id, command.id);
      expect(view).toMatchObject({ state: "cancelled", error: "cancelled by a user" });
      expect(view.finishedAt).not.toBeNull();
    }
    const audit = await t.database.rawSql(
      `select actor_kind, actor_id, tenant_id, resource_type, details from audit_log
       where action = 'agent.command.cancel' and resource_id = '${queued.id}'`,
    );
    expect(audit).toEqual([{
      actor_kind: "user",
      actor_id: "usr_root",
      tenant_id: tenantId,
      resource_type: "agent_command",
      details: { hostId: host.id, kind: "test.cancel", siteId: null, state: "queued" },
    }]);
    await waitFor(
      "the cancellation's command_done",
      () => events.some((e) => e.event === "command_done" && e.commandId === sent.id),
    );
  });

  test("refuses running and ended commands with a conflict, changing nothing", async () => {
    const host = await addHost("db-2");
    const running = await enqueue({ host, kind: "test.cancel", ttlMs: 60_000 });
    const ended = await enqueue({ host, siteId: "site_e", kind: "test.cancel", ttlMs: 60_000 });
    await t.database.rawSql(
      `update agent_commands set state = 'running' where id = '${running.id}'`,
    );
    await t.database.rawSql(
      `update agent_commands set state = 'succeeded' where id = '${ended.id}'`,
    );
    const access = memberAccess(["hosts.update"], tenantId);
    const busy = await failure(cancelCommand(t.deps, access, userAudit, host.id, running.id));
    expect(busy.code).toBe("conflict");
    expect(busy.message).toContain("already running on the host");
    const done = await failure(cancelCommand(t.deps, access, userAudit, host.id, ended.id));
    expect(done.code).toBe("conflict");
    expect((await stored(running.id))?.state).toBe("running");
    expect((await stored(ended.id))?.state).toBe("succeeded");
  });

  test("needs hosts.update, and answers another tenant's host or command as not found", async () => {
    const host = await addHost("db-3");
    const theirs = await addHost("db-3", otherTenantId);
    const command = await enqueue({ host, kind: "test.cancel", ttlMs: 60_000 });
    const theirCommand = await enqueue({ host: theirs, kind: "test.cancel", ttlMs: 60_000 });
    const reader = memberAccess(["hosts.read"], tenantId);
    expect((await failure(cancelCommand(t.deps, reader, userAudit, host.id, command.id))).code)
      .toBe("forbidden");
    const access = memberAccess(["hosts.update"], tenantId);
    const foreign = await failure(
      cancelCommand(t.deps, access, userAudit, theirs.id, theirCommand.id),
    );
    expect(foreign.code).toBe("not_found");
    // A command id paired with the wrong host is not found either.
    const mismatched = await failure(
      cancelCommand(t.deps, access, userAudit, host.id, theirCommand.id),
    );
    expect(mismatched.code).toBe("not_found");
    expect((await stored(theirCommand.id))?.state).toBe("queued");
    expect((await stored(command.id))?.state).toBe("queued");
  });
});

describe("cancelOpenCommands", () => {
  test("ends every open command of the host, running ones too, and nothing else", async () => {
    const host = await addHost("gone-1");
    const other = await addHost("gone-2");
    const queued = await enqueue({ host, kind: "test.revoke", ttlMs: 60_000 });
    const running = await enqueue({ host, siteId: "s1", kind: "test.revoke", ttlMs: 60_000 });
    const ended = await enqueue({ host, siteId: "s2", kind: "test.revoke", ttlMs: 60_000 });
    const kept = await enqueue({ host: other, kind: "test.revoke", ttlMs: 60_000 });
    await t.database.rawSql(
      `update agent_commands set state = 'running' where id = '${running.id}'`,
    );
    await t.database.rawSql(`update agent_commands set state = 'failed' where id = '${ended.id}'`);
    const count = await t.deps.database.db.transaction((tx) =>
      cancelOpenCommands(tx, host.id, new Date(), "host revoked")
    );
    expect(count).toBe(2);
    expect(await stored(queued.id)).toMatchObject({ state: "cancelled", error: "host revoked" });
    expect((await stored(running.id))?.state).toBe("cancelled");
    expect((await stored(ended.id))?.state).toBe("failed");
    expect((await stored(kept.id))?.state).toBe("queued");
  });
});

describe("listHostCommands and getHostCommand", () => {
  test("pages newest first by seq and keeps other hosts' commands out", async () => {
    const host = await addHost("list-1");
    const other = await addHost("list-2");
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await enqueue({ host, kind: "test.list", payload: { i }, ttlMs: 60_000 })).id);
    }
    const foreign = await enqueue({ host: other, kind: "test.list", ttlMs: 60_000 });
    const db = t.deps.database.db;
    const first = await listHostCommands(db, host.id, { limit: 2 });
    expect(first.map((c) => c.id)).toEqual(ids.slice(3).reverse());
    const next = await listHostCommands(db, host.id, { limit: 10, beforeSeq: first[1]?.seq });
    expect(next.map((c) => c.id)).toEqual(ids.slice(0, 3).reverse());
    expect((await getHostCommand(db, host.id, ids[0] ?? "")).payload).toEqual({ i: 0 });
    expect((await failure(getHostCommand(db, host.id, foreign.id))).code).toBe("not_found");
  });
});
