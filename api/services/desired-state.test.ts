import { afterAll, beforeAll, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { newId } from "../../db/ids.ts";
import { sites, tenants } from "../../db/schema.ts";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { insertEnrolledHost } from "../../scripts/testing/protocol-client.ts";
import { insertTestSite } from "../../scripts/testing/sites.ts";
import { bumpDesiredRevision, desiredStateFor } from "./desired-state.ts";
import { sealSiteEnv } from "./site-env.ts";

let t: TestApp;
let tenantId: string;

beforeAll(async () => {
  t = await createTestApp();
  tenantId = newId("ten");
  await t.deps.database.db.insert(tenants).values({ id: tenantId, name: "Acme" });
});
afterAll(() => t.close());

test("the desired revision only grows, and the desired state carries it", async () => {
  const db = t.deps.database.db;
  const host = await insertEnrolledHost(db, tenantId, "revisions");
  expect(await desiredStateFor(t.deps, host.hostId)).toEqual({
    hostId: host.hostId,
    revision: 1,
    sites: [],
  });
  const revisions = [];
  for (let i = 0; i < 3; i++) {
    revisions.push(await db.transaction((tx) => bumpDesiredRevision(tx, host.hostId)));
  }
  expect(revisions).toEqual([2, 3, 4]);
  expect((await desiredStateFor(t.deps, host.hostId)).revision).toBe(4);
  await expect(desiredStateFor(t.deps, "host_missing")).rejects.toThrow("Host not found");
});

test("carries every site of the host, stopped ones too, with its environment decrypted", async () => {
  const db = t.deps.database.db;
  const { hostId } = await insertEnrolledHost(db, tenantId, "with-sites");
  const other = await insertEnrolledHost(db, tenantId, "elsewhere");
  const { siteId } = await insertTestSite(db, tenantId, { hostId, domain: "a.example" });
  const stopped = await insertTestSite(db, tenantId, { hostId, domain: "b.example" });
  await insertTestSite(db, tenantId, { hostId: other.hostId, domain: "c.example" });
  await db.update(sites).set({
    ...(await sealSiteEnv(t.deps.secrets, siteId, { APP_ENV: "prod" })),
  }).where(eq(sites.id, siteId));
  await db.update(sites).set({ enabled: false }).where(eq(sites.id, stopped.siteId));
  const state = await desiredStateFor(t.deps, hostId);
  const byDomain = Object.fromEntries(state.sites.map((s) => [s.domains[0], s]));
  expect(Object.keys(byDomain).sort()).toEqual(["a.example", "b.example"]);
  expect(byDomain["a.example"]).toMatchObject({ enabled: true, env: { APP_ENV: "prod" } });
  expect(byDomain["b.example"]).toMatchObject({ enabled: false, env: {} });
  // A ciphertext moved to another site's row does not decrypt there.
  const [sealed] = await db.select({ envSecret: sites.envSecret }).from(sites)
    .where(eq(sites.id, siteId));
  await db.update(sites).set({ envSecret: sealed?.envSecret }).where(eq(sites.id, stopped.siteId));
  await expect(desiredStateFor(t.deps, hostId)).rejects.toThrow("Cannot decrypt secret");
});
