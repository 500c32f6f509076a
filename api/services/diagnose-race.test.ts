import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { PROTOCOL_VERSION } from "../../agent/protocol/version.ts";
import { agentCommands, auditLog, hosts } from "../../db/schema.ts";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { memberAccess } from "../../scripts/testing/auth.ts";
import { openServerTestDatabase, type TestDatabase } from "../../scripts/testing/db.ts";
import { addTestMember, setupAcme } from "../../scripts/testing/members.ts";
import { sampleFacts } from "../../scripts/testing/protocol-client.ts";
import { reportMissingServer, SERVER_URL } from "../../scripts/testing/server-only.ts";
import { waitFor } from "../../scripts/testing/wait.ts";
import type { Access } from "../auth/route-access.ts";
import type { AuditContext } from "./audit.ts";
import { type HelloFrame, recordHello } from "./agent-sessions.ts";
import { createHost } from "./host-enrolment.ts";
import { diagnoseHost } from "./hosts.ts";

// A diagnose is one statement that checks the host is live and writes the command: a revocation
// that commits between that check and the write would leave a command no agent will ever run,
// and an agent's hello on another replica that commits between them would let that replica's
// first delivery pass miss a command written as sent to the socket the agent just left.
// Holding the host row the way revokeHost does needs a second connection, which the embedded
// database does not have: this runs on a server (scripts/testing/server-only.ts).
const NAME = "a diagnose racing a revocation or a reconnect";
reportMissingServer(NAME);

describe.skipIf(!SERVER_URL)(NAME, () => {
  let database: TestDatabase;
  let t: TestApp;
  let admin: Access;
  const audit: AuditContext = { actor: { kind: "user", id: "usr_admin" } };

  beforeAll(async () => {
    database = await openServerTestDatabase(SERVER_URL ?? "");
    t = await createTestApp({ database });
    const { acme } = await setupAcme(t);
    const member = await addTestMember(t, {
      email: "admin@acme.test",
      tenantId: acme,
      roleIds: ["role_admin"],
    });
    admin = memberAccess(["hosts.create", "hosts.update"], acme, member.userId);
  });
  afterAll(async () => {
    await t.close();
    await database.close();
  });

  test("waits for a revocation in progress, then is refused and writes nothing", async () => {
    const { host } = await createHost(t.deps, admin, audit, { name: "raced" });
    const { diagnosed } = await t.deps.database.db.transaction(async (tx) => {
      // What revokeHost does first: lock the host row, then mark it revoked.
      await tx.select().from(hosts).where(eq(hosts.id, host.id)).for("update");
      const diagnosed = diagnoseHost(t.deps, admin, audit, host.id).then(
        () => "written",
        (err: { code?: string }) => err.code ?? String(err),
      );
      await waitFor("the diagnose to wait on the host's lock", async () => {
        const [row] = await database.rawSql(
          `select count(*)::int as n from pg_stat_activity
            where datname = current_database() and wait_event_type = 'Lock'`,
        );
        return row?.n === 1;
      });
      await tx.update(hosts).set({ revokedAt: new Date() }).where(eq(hosts.id, host.id));
      // Wrapped, or the transaction would wait for the diagnose that waits for it.
      return { diagnosed };
    });
    expect(await diagnosed).toBe("not_found");
    const db = t.deps.database.db;
    expect(await db.select().from(agentCommands).where(eq(agentCommands.hostId, host.id)))
      .toEqual([]);
    expect(await db.select().from(auditLog).where(eq(auditLog.resourceId, host.id)))
      .not.toContainEqual(expect.objectContaining({ action: "host.diagnose" }));
  });

  test("a hello on another replica waits for a diagnose in flight, so its pass sees the command", async () => {
    const { host } = await createHost(t.deps, admin, audit, { name: "reconnecting" });
    // Enrolled and connected to replica A.
    await t.deps.database.db.update(hosts)
      .set({ publicKey: "A".repeat(43), connectedReplica: "replica-a" })
      .where(eq(hosts.id, host.id));
    const hello: HelloFrame = {
      type: "hello",
      agentVersion: "1.0.0",
      protocolVersion: PROTOCOL_VERSION,
      mode: "sandbox",
      modeReason: "test",
      facts: sampleFacts(),
    };
    const steps: string[] = [];
    const { helloDone } = await t.deps.database.db.transaction(async (tx) => {
      // What a diagnose statement holds while it writes a command sent to replica A's socket.
      await tx.select({ id: hosts.id }).from(hosts).where(eq(hosts.id, host.id)).for("key share");
      const helloDone = recordHello(t.deps.database.db, host.id, hello, "replica-b", new Date())
        .then((ok) => void steps.push(`hello ${ok}`));
      await waitFor("the hello to wait on the host's lock", async () => {
        const [row] = await database.rawSql(
          `select count(*)::int as n from pg_stat_activity
            where datname = current_database() and wait_event_type = 'Lock'`,
        );
        return row?.n === 1;
      });
      steps.push("diagnose committed");
      // Wrapped, or the transaction would wait for the hello that waits for it.
      return { helloDone };
    });
    await helloDone;
    expect(steps).toEqual(["diagnose committed", "hello true"]);
    const [row] = await t.deps.database.db.select({ replica: hosts.connectedReplica })
      .from(hosts).where(eq(hosts.id, host.id));
    expect(row?.replica).toBe("replica-b");
  });
});
