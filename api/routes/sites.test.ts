import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { and, eq } from "drizzle-orm";
import { agentCommands, auditLog, hosts, sites } from "../../db/schema.ts";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { callApi, errorOf } from "../../scripts/testing/api.ts";
import { addTestMember, addTestTenant, setupAcme } from "../../scripts/testing/members.ts";
import { insertEnrolledHost } from "../../scripts/testing/protocol-client.ts";
import { desiredStateFor } from "../services/desired-state.ts";
import type { SiteView } from "../services/site-view.ts";

let t: TestApp;
let acme: string;
let admin: string;
let viewer: string;
let globexAdmin: string;
let hostId: string;
let globexHostId: string;
const SECRET = "s3cr3t-value-that-must-not-leak";

beforeAll(async () => {
  t = await createTestApp({ env: { CADDIS_WORKER_PORTS: "20000-20007" } });
  let root: string;
  ({ rootToken: root, acme } = await setupAcme(t));
  void root;
  const globex = await addTestTenant(t, "Globex");
  const member = async (email: string, tenantId: string, roleId: string) =>
    (await addTestMember(t, { email, tenantId, roleIds: [roleId] })).accessToken;
  admin = await member("admin@acme.test", acme, "role_admin");
  viewer = await member("viewer@acme.test", acme, "role_viewer");
  globexAdmin = await member("admin@globex.test", globex, "role_admin");
  const db = t.deps.database.db;
  hostId = (await insertEnrolledHost(db, acme, "web-1")).hostId;
  globexHostId = (await insertEnrolledHost(db, globex, "g-1")).hostId;
  await db.update(hosts).set({
    web: { httpPort: 8088, httpsPort: null, sitesDir: "/var/lib/caddis-agent/sites" },
  }).where(eq(hosts.id, hostId));
});
afterAll(() => t.close());

async function createSite(body: Record<string, unknown>, token = admin): Promise<SiteView> {
  const res = await callApi(t, token, "POST", "/api/v1/sites", { hostId, ...body });
  expect(res.status).toBe(201);
  return ((await res.json()) as { site: SiteView }).site;
}

const siteCount = async () => (await t.deps.database.db.select().from(sites)).length;

describe("POST /api/v1/sites", () => {
  test("creates a pending site with a pair of worker ports, paths and the host's HTTP port", async () => {
    const site = await createSite({
      domain: "Bücher.Example.",
      aliases: ["WWW.bücher.example"],
      runtime: "php-cli",
      env: { APP_KEY: SECRET },
    });
    expect(site).toMatchObject({
      hostId,
      hostName: "web-1",
      domain: "xn--bcher-kva.example",
      aliases: ["www.xn--bcher-kva.example"],
      runtime: "php-cli",
      docroot: "public",
      status: "pending",
      enabled: true,
      envNames: ["APP_KEY"],
      httpPort: 8088,
      docrootPath: `/var/lib/caddis-agent/sites/${site.id}/current/public`,
      systemUser: `cs_${site.id.slice(5)}`,
    });
    expect(site.workerPort % 2).toBe(0);
    expect(site.workerPort).toBeGreaterThanOrEqual(20000);
    expect(JSON.stringify(site)).not.toContain(SECRET);
    // At rest the value is ciphertext; the host's desired state carries it in clear.
    const [row] = await t.deps.database.db.select().from(sites).where(eq(sites.id, site.id));
    expect(row?.envSecret).toStartWith("v");
    expect(row?.envSecret).not.toContain(SECRET);
    const desired = await desiredStateFor(t.deps, hostId);
    expect(desired.sites.find((s) => s.id === site.id)).toMatchObject({
      domains: ["xn--bcher-kva.example", "www.xn--bcher-kva.example"],
      env: { APP_KEY: SECRET },
      port: site.workerPort,
    });
    const audit = await t.deps.database.db.select().from(auditLog)
      .where(and(eq(auditLog.action, "sites.create"), eq(auditLog.resourceId, site.id)));
    expect(audit).toHaveLength(1);
    expect(JSON.stringify(audit[0]?.details)).not.toContain(SECRET);
    // A refused value is never echoed back or logged either.
    const refused = await callApi(t, admin, "PATCH", `/api/v1/sites/${site.id}`, {
      env: { APP_KEY: `${SECRET}\0` },
    });
    expect(await refused.text()).not.toContain(SECRET);
    expect(t.logText()).not.toContain(SECRET);
    await callApi(t, admin, "DELETE", `/api/v1/sites/${site.id}?purge=true`);
  });

  test("hostile input is a 400 naming the field, and nothing is written", async () => {
    const before = await siteCount();
    const revision = (await desiredStateFor(t.deps, hostId)).revision;
    const cases: [Record<string, unknown>, string][] = [
      [{ domain: "a.com\nimport /etc/passwd" }, "domain"],
      [{ domain: "{env.SECRET}.com" }, "domain"],
      [{ domain: "*.example.com" }, "domain"],
      [{ domain: "ok.example", aliases: ["x.example", "bad example"] }, "aliases.1"],
      [{ domain: "ok.example", docroot: "../../etc" }, "docroot"],
      [{ domain: "ok.example", workerScript: "/abs/worker.php" }, "workerScript"],
      [{ domain: "ok.example", env: { "bad name": "x" } }, "env.bad name"],
      [{ domain: "ok.example", runtime: "nodejs" }, "runtime"],
      [{ domain: "ok.example", extra: true }, "(body)"],
    ];
    for (const [body, field] of cases) {
      const res = await callApi(t, admin, "POST", "/api/v1/sites", { hostId, ...body });
      const error = await errorOf(res, 400);
      expect(Object.keys(error.fields ?? {})).toContain(field);
    }
    expect(await siteCount()).toBe(before);
    expect((await desiredStateFor(t.deps, hostId)).revision).toBe(revision);
  });

  test("a name is unique across tenants in any spelling: 409, and the loser writes nothing", async () => {
    const site = await createSite({ domain: "shop.example", aliases: ["www.shop.example"] });
    const before = await siteCount();
    for (const domain of ["SHOP.example", "shop.example."]) {
      const res = await callApi(t, globexAdmin, "POST", "/api/v1/sites", {
        hostId: globexHostId,
        domain,
      });
      expect((await errorOf(res, 409)).message).toBe(
        'The domain "shop.example" is already used by another site',
      );
    }
    const alias = await callApi(t, admin, "POST", "/api/v1/sites", {
      hostId,
      domain: "other.example",
      aliases: ["WWW.shop.example"],
    });
    expect((await errorOf(alias, 409)).message).toContain('"www.shop.example"');
    expect(await siteCount()).toBe(before);
    await callApi(t, admin, "DELETE", `/api/v1/sites/${site.id}`);
  });

  test("of several creates racing for one name, exactly one wins and the rest get 409", async () => {
    const tries = await Promise.all(
      Array.from(
        { length: 5 },
        () => callApi(t, admin, "POST", "/api/v1/sites", { hostId, domain: "race.example" }),
      ),
    );
    expect(tries.map((res) => res.status).sort()).toEqual([201, 409, 409, 409, 409]);
    const won = tries.find((res) => res.status === 201)!;
    const { site } = (await won.json()) as { site: SiteView };
    await callApi(t, admin, "DELETE", `/api/v1/sites/${site.id}`);
  });

  test("another tenant's host is not found, and its sites are invisible", async () => {
    const site = await createSite({ domain: "private.example" });
    const onTheirHost = await callApi(t, admin, "POST", "/api/v1/sites", {
      hostId: globexHostId,
      domain: "sneaky.example",
    });
    expect((await errorOf(onTheirHost, 404)).message).toBe("Host not found");
    for (
      const [method, path, body] of [
        ["GET", `/api/v1/sites/${site.id}`],
        ["PATCH", `/api/v1/sites/${site.id}`, { enabled: false }],
        ["DELETE", `/api/v1/sites/${site.id}`],
        ["POST", `/api/v1/sites/${site.id}/restart`],
      ] as const
    ) {
      const res = await callApi(t, globexAdmin, method, path, body);
      expect((await errorOf(res, 404)).message).toBe("Site not found");
    }
    const listed = await callApi(t, globexAdmin, "GET", "/api/v1/sites");
    expect(((await listed.json()) as { sites: SiteView[] }).sites).toEqual([]);
    expect((await callApi(t, admin, "GET", `/api/v1/sites/${site.id}`)).status).toBe(200);
    await callApi(t, admin, "DELETE", `/api/v1/sites/${site.id}`);
  });

  test("a viewer reads sites but cannot create, change, restart or delete one", async () => {
    const site = await createSite({ domain: "viewed.example" });
    expect((await callApi(t, viewer, "GET", "/api/v1/sites")).status).toBe(200);
    expect((await callApi(t, viewer, "GET", `/api/v1/sites/${site.id}`)).status).toBe(200);
    const writes = [
      ["POST", "/api/v1/sites", { hostId, domain: "v.example" }],
      ["PATCH", `/api/v1/sites/${site.id}`, { enabled: false }],
      ["POST", `/api/v1/sites/${site.id}/restart`],
      ["DELETE", `/api/v1/sites/${site.id}`],
    ] as const;
    for (const [method, path, body] of writes) {
      expect((await callApi(t, viewer, method, path, body)).status).toBe(403);
    }
    await callApi(t, admin, "DELETE", `/api/v1/sites/${site.id}`);
  });

  test("ports come in pairs, are freed by a delete, and running out is a clear 409", async () => {
    const made: SiteView[] = [];
    for (const name of ["p1", "p2", "p3", "p4"]) {
      made.push(await createSite({ domain: `${name}.example` }));
    }
    expect(made.map((s) => s.workerPort)).toEqual([20000, 20002, 20004, 20006]);
    const full = await callApi(t, admin, "POST", "/api/v1/sites", { hostId, domain: "p5.example" });
    expect((await errorOf(full, 409)).message).toContain("No free worker ports are left");
    await callApi(t, admin, "DELETE", `/api/v1/sites/${made[1]?.id}`);
    expect((await createSite({ domain: "p2.example" })).workerPort).toBe(20002);
    for (
      const site of (await (await callApi(t, admin, "GET", "/api/v1/sites")).json() as {
        sites: SiteView[];
      }).sites
    ) {
      await callApi(t, admin, "DELETE", `/api/v1/sites/${site.id}`);
    }
  });
});

describe("PATCH, restart and DELETE /api/v1/sites/:id", () => {
  test("a change replaces names and env, bumps the revision, and audits names only", async () => {
    const site = await createSite({ domain: "blog.example", aliases: ["www.blog.example"] });
    const revision = (await desiredStateFor(t.deps, hostId)).revision;
    const res = await callApi(t, admin, "PATCH", `/api/v1/sites/${site.id}`, {
      domain: "news.example",
      aliases: [],
      env: { DB_PASSWORD: SECRET },
      docroot: "web",
    });
    expect(res.status).toBe(200);
    const { site: changed } = (await res.json()) as { site: SiteView };
    expect(changed).toMatchObject({
      domain: "news.example",
      aliases: [],
      envNames: ["DB_PASSWORD"],
      docroot: "web",
    });
    expect((await desiredStateFor(t.deps, hostId)).revision).toBe(revision + 1);
    // The old names are free again.
    const reuse = await createSite({ domain: "blog.example", aliases: ["www.blog.example"] });
    const [audit] = await t.deps.database.db.select().from(auditLog)
      .where(and(eq(auditLog.action, "sites.update"), eq(auditLog.resourceId, site.id)));
    expect(audit?.details).toMatchObject({ changed: { envNames: ["DB_PASSWORD"] } });
    expect(JSON.stringify(audit?.details)).not.toContain(SECRET);
    const aliasOfItself = await callApi(t, admin, "PATCH", `/api/v1/sites/${site.id}`, {
      aliases: ["news.example"],
    });
    expect((await errorOf(aliasOfItself, 400)).message).toContain("repeats the domain");
    const moveHost = await callApi(t, admin, "PATCH", `/api/v1/sites/${site.id}`, {
      hostId: globexHostId,
    });
    expect(Object.keys((await errorOf(moveHost, 400)).fields ?? {})).toEqual(["hostId"]);
    for (const id of [site.id, reuse.id]) await callApi(t, admin, "DELETE", `/api/v1/sites/${id}`);
  });

  test("restart queues site.restart; a stopped site cannot be restarted", async () => {
    const site = await createSite({ domain: "restart.example" });
    const res = await callApi(t, admin, "POST", `/api/v1/sites/${site.id}/restart`);
    expect(res.status).toBe(202);
    const { command } = (await res.json()) as { command: { kind: string; siteId: string } };
    expect(command).toMatchObject({ kind: "site.restart", siteId: site.id });
    await callApi(t, admin, "PATCH", `/api/v1/sites/${site.id}`, { enabled: false });
    const stopped = await callApi(t, admin, "POST", `/api/v1/sites/${site.id}/restart`);
    expect((await errorOf(stopped, 409)).message).toBe(
      'Cannot restart site "restart.example": it is stopped',
    );
    await callApi(t, admin, "DELETE", `/api/v1/sites/${site.id}`);
  });

  test("delete frees the site's names at once and tells the host to trash (or purge) its files", async () => {
    const site = await createSite({ domain: "gone.example" });
    const res = await callApi(t, admin, "DELETE", `/api/v1/sites/${site.id}?purge=true`);
    expect(res.status).toBe(202);
    const { command } = (await res.json()) as { command: { id: string } };
    const [row] = await t.deps.database.db.select().from(agentCommands)
      .where(eq(agentCommands.id, command.id));
    expect(row).toMatchObject({ kind: "site.remove", siteId: site.id, payload: { purge: true } });
    expect((await callApi(t, admin, "GET", `/api/v1/sites/${site.id}`)).status).toBe(404);
    expect((await desiredStateFor(t.deps, hostId)).sites.map((s) => s.id)).not.toContain(site.id);
    const again = await createSite({ domain: "gone.example" });
    const bad = await callApi(t, admin, "DELETE", `/api/v1/sites/${again.id}?purge=yes`);
    expect(Object.keys((await errorOf(bad, 400)).fields ?? {})).toEqual(["purge"]);
    await callApi(t, admin, "DELETE", `/api/v1/sites/${again.id}`);
  });
});
