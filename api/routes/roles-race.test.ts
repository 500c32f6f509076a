import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { inArray } from "drizzle-orm";
import { roles } from "../../db/schema.ts";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { callApi } from "../../scripts/testing/api.ts";
import { openServerTestDatabase, type TestDatabase } from "../../scripts/testing/db.ts";
import { addTestMember, setupAcme } from "../../scripts/testing/members.ts";
import { reportMissingServer, SERVER_URL } from "../../scripts/testing/server-only.ts";
import { waitFor } from "../../scripts/testing/wait.ts";

// Two role edits that each pass their cycle check before either writes: only the per-tenant lock
// stops them from building a cycle together. Holding both rows needs a second connection, which
// the embedded database does not have: this runs on a server (scripts/testing/server-only.ts).
reportMissingServer("concurrent role edits");

describe.skipIf(!SERVER_URL)("concurrent role edits", () => {
  let database: TestDatabase;
  let t: TestApp;
  let admin: string;

  beforeAll(async () => {
    database = await openServerTestDatabase(SERVER_URL ?? "");
    t = await createTestApp({ database });
    const { acme } = await setupAcme(t);
    admin = (await addTestMember(t, {
      email: "admin@example.com",
      tenantId: acme,
      roleIds: ["role_admin"],
    })).accessToken;
  });
  afterAll(async () => {
    await t.close();
    await database.close();
  });

  const call = (method: string, path: string, body: unknown) =>
    callApi(t, admin, method, `/api/v1${path}`, body);
  const createRole = async (name: string) => {
    const res = await call("POST", "/roles", { name, permissions: [] });
    if (res.status !== 201) throw new Error(`create role: ${res.status} ${await res.text()}`);
    return ((await res.json()) as { id: string }).id;
  };

  test("edits that both read before either writes still cannot build a cycle", async () => {
    const a = await createRole("Lock A");
    const b = await createRole("Lock B");
    const { edits } = await t.deps.database.db.transaction(async (tx) => {
      // Holding the rows makes each edit stop at its write, after whatever it checked.
      await tx.select().from(roles).where(inArray(roles.id, [a, b])).for("update");
      const edits = Promise.all([
        call("PATCH", `/roles/${a}`, { parentId: b }),
        call("PATCH", `/roles/${b}`, { parentId: a }),
      ]);
      await waitFor("both edits to wait on a lock", async () => {
        const [row] = await database.rawSql(
          `select count(*)::int as n from pg_stat_activity
            where datname = current_database() and wait_event_type = 'Lock'`,
        );
        return row?.n === 2;
      });
      // Wrapped, or the transaction would wait for the edits that wait for it.
      return { edits };
    });
    const results = await edits;
    expect(results.map((r) => r.status).sort()).toEqual([200, 400]);
  });
});
