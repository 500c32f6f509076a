import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { setupAcme } from "../../scripts/testing/members.ts";
import { prepareLocalHost } from "./local-host.ts";

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

async function localHosts() {
  return await t.database.rawSql(
    "select id, tenant_id, enrolment_token_hash, revoked_at from hosts where is_local order by created_at",
  );
}

describe("prepareLocalHost", () => {
  test("waits while no tenant exists", async () => {
    expect(await prepareLocalHost(t.deps, undefined)).toEqual({ kind: "no_tenant" });
    expect(await localHosts()).toHaveLength(0);
  });

  test("creates the local host once, in the first tenant, with an enrolment token", async () => {
    const { acme } = await setupAcme(t);
    const plan = await prepareLocalHost(t.deps, undefined);
    expect(plan.kind).toBe("run");
    const rows = await localHosts();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ tenant_id: acme });
    const audit = await t.database.rawSql(
      "select actor_kind, details from audit_log where action = 'host.create'",
    );
    expect(audit).toEqual([{ actor_kind: "system", details: { name: "local", embedded: true } }]);
    // The plan's token is the only copy: only its hash is stored.
    const token = plan.kind === "run" ? plan.enrolToken : undefined;
    expect(token).toMatch(/^cde_[a-z2-7]{52}$/);
    expect(JSON.stringify(rows).includes(token!)).toBe(false);
  });

  test("an enrolled agent with the matching state file just runs", async () => {
    const [row] = await localHosts();
    await t.database.rawSql(
      `update hosts set public_key = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', enrolled_at = now(),
         enrolment_token_hash = null where id = '${row!.id}'`,
    );
    expect(await prepareLocalHost(t.deps, String(row!.id))).toEqual({
      kind: "run",
      hostId: String(row!.id),
      enrolToken: undefined,
    });
  });

  test("a state file naming another host (a reset database) gets a new token for the same host", async () => {
    const [row] = await localHosts();
    const plan = await prepareLocalHost(t.deps, "host_from_an_older_database");
    expect(plan).toMatchObject({ kind: "run", hostId: row!.id, enrolToken: expect.any(String) });
    expect(await localHosts()).toHaveLength(1);
  });

  test("a revoked local host is never recreated", async () => {
    const [row] = await localHosts();
    await t.database.rawSql(`update hosts set revoked_at = now() where id = '${row!.id}'`);
    expect(await prepareLocalHost(t.deps, String(row!.id))).toEqual({
      kind: "revoked",
      hostId: String(row!.id),
    });
    expect(await localHosts()).toHaveLength(1);
  });
});
