import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { EnrolResponse } from "../../agent/protocol/enrolment.ts";
import { generateSigningKeyPair } from "../../agent/protocol/signing.ts";
import { createTestApp, serveTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { callApi, errorOf } from "../../scripts/testing/api.ts";
import { postJson } from "../../scripts/testing/auth.ts";
import { addTestMember, addTestTenant, setupAcme } from "../../scripts/testing/members.ts";
import { TENANT_HEADER } from "../auth/active-tenant.ts";
import { rateLimitGroup } from "../rate-limit.ts";
import type { CommandView } from "../services/agent-commands.ts";
import type { Enrolment } from "../services/host-enrolment.ts";
import type { HostView } from "../services/host-view.ts";

let t: TestApp;
let root: string;
let acme: string;
let admin: string;
let viewer: string;
let globexAdmin: string;
// Every enrolment token handed out here, to prove none reaches a log or a later response.
const tokens: string[] = [];

type Created = { host: HostView; enrolment: Enrolment };

beforeAll(async () => {
  t = await createTestApp();
  ({ rootToken: root, acme } = await setupAcme(t));
  const globex = await addTestTenant(t, "Globex");
  const member = async (email: string, tenantId: string, roleId: string) =>
    (await addTestMember(t, { email, tenantId, roleIds: [roleId] })).accessToken;
  admin = await member("admin@acme.test", acme, "role_admin");
  viewer = await member("viewer@acme.test", acme, "role_viewer");
  globexAdmin = await member("admin@globex.test", globex, "role_admin");
});
afterAll(() => t.close());

async function addHost(name: string): Promise<Created> {
  const res = await callApi(t, admin, "POST", "/api/v1/hosts", { name });
  expect(res.status).toBe(201);
  const created = (await res.json()) as Created;
  tokens.push(created.enrolment.token);
  return created;
}

async function enrol(token: string, extra: Record<string, unknown> = {}) {
  const { publicKey } = await generateSigningKeyPair();
  return await postJson(t, "/api/v1/agent/enroll", { token, publicKey, hostname: "web", ...extra });
}

describe("POST /api/v1/hosts", () => {
  test("creates a pending host and returns its one-time enrolment command", async () => {
    const { host, enrolment } = await addHost("Web-1");
    expect(host).toMatchObject({ name: "web-1", status: "pending", enrolled: false });
    expect(enrolment.command).toStartWith(
      `CADDIS_ENROL_TOKEN=${enrolment.token} bun agent/main.ts`,
    );
    expect(enrolment.command).not.toContain(`--token`);
  });

  test("a bad name is a 400 naming the field; a taken one a 409", async () => {
    const bad = await errorOf(
      await callApi(t, admin, "POST", "/api/v1/hosts", { name: "-x" }),
      400,
    );
    expect(bad.code).toBe("invalid_input");
    expect(Object.keys(bad.fields ?? {})).toEqual(["name"]);
    const extra = await callApi(t, admin, "POST", "/api/v1/hosts", { name: "ok", isLocal: true });
    expect((await errorOf(extra, 400)).code).toBe("invalid_input");
    await addHost("taken");
    const clash = await errorOf(
      await callApi(t, admin, "POST", "/api/v1/hosts", { name: "taken" }),
      409,
    );
    expect(clash.message).toBe('A host named "taken" already exists');
  });

  test("a viewer can list hosts but not add, diagnose or revoke one", async () => {
    const { host } = await addHost("viewed");
    expect((await callApi(t, viewer, "GET", "/api/v1/hosts")).status).toBe(200);
    expect((await callApi(t, viewer, "POST", "/api/v1/hosts", { name: "v" })).status).toBe(403);
    for (
      const [method, path] of [
        ["POST", `/api/v1/hosts/${host.id}/diagnose`],
        ["POST", `/api/v1/hosts/${host.id}/enrolment`],
        ["DELETE", `/api/v1/hosts/${host.id}`],
      ] as const
    ) {
      expect((await callApi(t, viewer, method, path)).status).toBe(403);
    }
  });
});

describe("another tenant's hosts", () => {
  test("look absent on every route, even with the right permission in their own tenant", async () => {
    const { host } = await addHost("acme-only");
    const command = (await (await callApi(t, admin, "POST", `/api/v1/hosts/${host.id}/diagnose`))
      .json()) as { command: CommandView };
    const base = `/api/v1/hosts/${host.id}`;
    const routes: [string, string][] = [
      ["GET", base],
      ["DELETE", base],
      ["POST", `${base}/diagnose`],
      ["POST", `${base}/enrolment`],
      ["GET", `${base}/commands`],
      ["GET", `${base}/commands/${command.command.id}`],
      ["DELETE", `${base}/commands/${command.command.id}`],
      ["GET", `${base}/metrics`],
    ];
    for (const [method, path] of routes) {
      const res = await callApi(t, globexAdmin, method, path);
      expect(`${method} ${path} ${res.status}`).toBe(`${method} ${path} 404`);
    }
    // Asking for Acme by header changes nothing: they are not a member there.
    const res = await callApi(t, globexAdmin, "GET", base, undefined, { [TENANT_HEADER]: acme });
    expect(res.status).toBe(404);
    expect((await callApi(t, admin, "GET", base)).status).toBe(200);
  });
});

describe("commands and metrics", () => {
  test("diagnose answers 202 with the queued command, listed, readable and cancellable", async () => {
    const { host } = await addHost("commands");
    const base = `/api/v1/hosts/${host.id}`;
    const queued = await callApi(t, admin, "POST", `${base}/diagnose`);
    expect(queued.status).toBe(202);
    const { command } = (await queued.json()) as { command: CommandView };
    expect(command).toMatchObject({ kind: "host.diagnose", state: "queued", hostId: host.id });
    const listed = await callApi(t, viewer, "GET", `${base}/commands?limit=5`);
    expect(((await listed.json()) as { commands: CommandView[] }).commands).toEqual([command]);
    const one = await callApi(t, viewer, "GET", `${base}/commands/${command.id}`);
    expect(((await one.json()) as { command: CommandView }).command).toEqual(command);
    expect((await callApi(t, viewer, "DELETE", `${base}/commands/${command.id}`)).status).toBe(403);
    const cancelled = await callApi(t, admin, "DELETE", `${base}/commands/${command.id}`);
    expect(((await cancelled.json()) as { command: CommandView }).command.state).toBe("cancelled");
    const again = await callApi(t, admin, "DELETE", `${base}/commands/${command.id}`);
    expect((await errorOf(again, 409)).code).toBe("conflict");
  });

  test("query values outside their ranges are 400s naming them", async () => {
    const { host } = await addHost("ranges");
    const base = `/api/v1/hosts/${host.id}`;
    for (
      const [path, field] of [
        [`${base}/metrics?hours=0`, "hours"],
        [`${base}/metrics?hours=25`, "hours"],
        [`${base}/commands?limit=500`, "limit"],
        [`${base}/commands?before=x`, "before"],
        [`${base}/commands?sort=asc`, "(body)"],
      ] as const
    ) {
      const error = await errorOf(await callApi(t, admin, "GET", path), 400);
      expect(Object.keys(error.fields ?? {})).toEqual([field]);
    }
    const metrics = await callApi(t, admin, "GET", `${base}/metrics?hours=1`);
    expect(await metrics.json()).toEqual({ points: [] });
  });
});

describe("DELETE /api/v1/hosts/:id", () => {
  test("revokes the host: gone from the list, 404 afterwards, its token dead", async () => {
    const { host, enrolment } = await addHost("revoked");
    expect((await callApi(t, admin, "DELETE", `/api/v1/hosts/${host.id}`)).status).toBe(204);
    expect((await callApi(t, admin, "GET", `/api/v1/hosts/${host.id}`)).status).toBe(404);
    const list = (await (await callApi(t, admin, "GET", "/api/v1/hosts")).json()) as {
      hosts: HostView[];
    };
    expect(list.hosts.map((h) => h.id)).not.toContain(host.id);
    expect((await enrol(enrolment.token)).status).toBe(400);
  });
});

describe("POST /api/v1/agent/enroll", () => {
  test("needs no account, and answers with the host id, the API's key and the socket path", async () => {
    const { host, enrolment } = await addHost("agent-1");
    const res = await enrol(enrolment.token);
    expect(res.status).toBe(200);
    expect(EnrolResponse.parse(await res.json())).toEqual({
      hostId: host.id,
      apiPublicKey: t.deps.commandSigner.publicKey,
      wsPath: "/api/v1/agent/ws",
    });
    const shown = (await (await callApi(t, root, "GET", `/api/v1/hosts/${host.id}`)).json()) as {
      host: HostView;
    };
    expect(shown.host).toMatchObject({ enrolled: true, status: "offline" });
  });

  test("a used token and an unknown one get the same 400", async () => {
    const { enrolment } = await addHost("agent-2");
    expect((await enrol(enrolment.token)).status).toBe(200);
    const used = await errorOf(await enrol(enrolment.token), 400);
    const unknown = await errorOf(await enrol(`cde_${"b".repeat(52)}`), 400);
    expect(used).toEqual(unknown);
    expect(used.code).toBe("bad_request");
  });

  test("a token of the wrong shape, or extra fields, are refused before any lookup", async () => {
    const shape = await errorOf(await enrol("cdt_not_an_enrolment_token"), 400);
    expect([shape.code, Object.keys(shape.fields ?? {})]).toEqual(["invalid_input", ["token"]]);
    const { enrolment } = await addHost("agent-3");
    const extra = await errorOf(await enrol(enrolment.token, { isLocal: true }), 400);
    expect(extra.code).toBe("invalid_input");
    expect((await enrol(enrolment.token)).status).toBe(200);
  });

  test("counts against the strict auth budget, like signing in", async () => {
    expect(rateLimitGroup("POST", "/api/v1/agent/enroll")).toBe("auth");
    const limited = await createTestApp({
      database: t.database,
      env: { CADDIS_RATE_LIMITS: "auth=2/min" },
    });
    const { server, url } = serveTestApp(limited);
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        const { publicKey } = await generateSigningKeyPair();
        const res = await fetch(`${url}/api/v1/agent/enroll`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ token: `cde_${"c".repeat(52)}`, publicKey, hostname: "x" }),
        });
        statuses.push(res.status);
      }
      expect(statuses).toEqual([400, 400, 429]);
    } finally {
      server.stop(true);
      await limited.close();
    }
  });
});

describe("secrets", () => {
  test("no enrolment token ever appears in a log line or a later response", async () => {
    const { host, enrolment } = await addHost("secretive");
    await enrol(enrolment.token);
    await enrol(enrolment.token);
    const reads = [
      await callApi(t, admin, "GET", "/api/v1/hosts"),
      await callApi(t, admin, "GET", `/api/v1/hosts/${host.id}`),
      await callApi(t, root, "GET", "/api/v1/audit?limit=200"),
    ];
    expect(reads.map((r) => r.status)).toEqual([200, 200, 200]);
    const bodies = await Promise.all(reads.map((r) => r.text()));
    expect(bodies[2]).toContain("host.enrolled");
    const logs = t.logText();
    expect(tokens.length).toBeGreaterThan(5);
    for (const token of tokens) {
      for (const body of bodies) expect(body).not.toContain(token);
      expect(logs).not.toContain(token);
      expect(logs).not.toContain(token.slice(4));
    }
    expect(logs).toContain("agent enrolment refused");
  });
});
