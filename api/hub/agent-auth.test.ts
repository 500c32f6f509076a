// Attack tests for the socket handshake: only the holder of an enrolled, unrevoked host's key,
// answering this connection's challenge now, gets in; every refusal is audited.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { generateSigningKeyPair } from "../../agent/protocol/signing.ts";
import { CLOSE, TIMING } from "../../agent/protocol/version.ts";
import { newId } from "../../db/ids.ts";
import { auditLog, hosts } from "../../db/schema.ts";
import { type AgentServer, startAgentServer } from "../../scripts/testing/agent-server.ts";
import { addTestTenant } from "../../scripts/testing/members.ts";
import {
  type AgentIdentity,
  answerChallenge,
  connectAgent,
  insertEnrolledHost,
  openAgentSocket,
  type ProtocolClient,
} from "../../scripts/testing/protocol-client.ts";
import { waitFor } from "../../scripts/testing/wait.ts";
import { notifyHostEvent } from "../services/host-events.ts";

let server: AgentServer;
let tenantId: string;
let web1: AgentIdentity;
let web2: AgentIdentity;

beforeAll(async () => {
  server = await startAgentServer({ hub: { challengeTimeoutMs: 500 } });
  tenantId = await addTestTenant(server.testApp, "Acme");
  web1 = await insertEnrolledHost(server.testApp.deps.database.db, tenantId, "web-1");
  web2 = await insertEnrolledHost(server.testApp.deps.database.db, tenantId, "web-2");
});
afterAll(() => server.close());

const db = () => server.testApp.deps.database.db;

async function authFailures(claimedHostId: string) {
  return await db().select().from(auditLog).where(eq(auditLog.resourceId, claimedHostId));
}

// Answers the challenge as `identity` (with forged parts), and expects the refusal.
async function expectRefused(
  identity: Pick<AgentIdentity, "hostId" | "privateKey">,
  overrides: { nonce?: string; signedAt?: string } = {},
  reason: string,
) {
  const before = (await authFailures(identity.hostId)).length;
  const client = await openAgentSocket(server.wsUrl);
  const answer = await answerChallenge(client, identity, overrides);
  const error = await client.waitFrame("error");
  expect(error.code).toBe("auth_failed");
  expect((await client.closed).code).toBe(CLOSE.authFailed);
  expect(client.frames.some((f) => f.type === "welcome")).toBe(false);
  const rows = await authFailures(identity.hostId);
  expect(rows.length).toBe(before + 1);
  const row = rows.at(-1)!;
  expect(row.action).toBe("agent.auth_failed");
  expect(row.actorKind).toBe("anonymous");
  expect(row.outcome).toBe("failure");
  expect(row.details).toMatchObject({ claimedHostId: identity.hostId, reason });
  expect(row.ip).toBe("127.0.0.1");
  // The signature is never stored or logged.
  expect(JSON.stringify(row)).not.toContain(answer.signature);
  expect(server.testApp.logText()).not.toContain(answer.signature);
  expect(server.testApp.logText()).toContain("challenge answer refused");
}

test("an unanswered challenge closes the socket", async () => {
  const client = await openAgentSocket(server.wsUrl);
  const challenge = await client.waitFrame("challenge");
  // 32 random bytes, base64url.
  expect(challenge.nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect((await client.closed).code).toBe(CLOSE.authFailed);
  expect((await client.waitFrame("error")).code).toBe("auth_failed");
});

test("the host's own key gets in, and each connection gets a fresh nonce", async () => {
  const a = await connectAgent(server.wsUrl, web1);
  const b = await openAgentSocket(server.wsUrl);
  expect((await b.waitFrame("challenge")).nonce).not.toBe((await a.waitFrame("challenge")).nonce);
  b.close();
  a.close();
});

test("an answer signed with the wrong key is refused and audited", async () => {
  const forged = await generateSigningKeyPair();
  await expectRefused({ hostId: web1.hostId, privateKey: forged.privateKey }, {}, "bad signature");
});

test("a second agent presenting another host's id with its own key is refused", async () => {
  await expectRefused({ hostId: web2.hostId, privateKey: web1.privateKey }, {}, "bad signature");
});

test("an answer replayed from an earlier connection is refused", async () => {
  const first = await openAgentSocket(server.wsUrl);
  const recorded = await answerChallenge(first, web1);
  await first.waitFrame("welcome");
  first.close();

  const before = (await authFailures(web1.hostId)).length;
  const replay = await openAgentSocket(server.wsUrl);
  await replay.waitFrame("challenge");
  replay.send(recorded);
  expect((await replay.closed).code).toBe(CLOSE.authFailed);
  const rows = await authFailures(web1.hostId);
  expect(rows.length).toBe(before + 1);
  expect(rows.at(-1)!.details).toMatchObject({ reason: "nonce does not match this connection's" });
});

test("an answer signed outside the allowed clock skew is refused", async () => {
  const stale = new Date(Date.now() - TIMING.clockSkewMs - 60_000).toISOString();
  await expectRefused(
    web1,
    { signedAt: stale },
    `signedAt ${stale} is outside the allowed clock skew`,
  );
});

test("unknown, unenrolled and revoked hosts are refused", async () => {
  const keys = await generateSigningKeyPair();
  await expectRefused({ hostId: newId("host"), privateKey: keys.privateKey }, {}, "unknown host");

  const pendingId = newId("host");
  await db().insert(hosts).values({ id: pendingId, tenantId, name: "pending" });
  await expectRefused({ hostId: pendingId, privateKey: keys.privateKey }, {}, "host not enrolled");
  const [pendingAudit] = await authFailures(pendingId);
  // Refusals for an existing host land in its tenant's audit log.
  expect(pendingAudit!.tenantId).toBe(tenantId);

  const gone = await insertEnrolledHost(db(), tenantId, "gone");
  await db().update(hosts).set({ revokedAt: new Date() }).where(eq(hosts.id, gone.hostId));
  await expectRefused(gone, {}, "host revoked");
});

test("revoking a host disconnects it within a second and refuses it afterwards", async () => {
  const doomed = await insertEnrolledHost(db(), tenantId, "doomed");
  const client: ProtocolClient = await connectAgent(server.wsUrl, doomed);
  expect(server.testApp.deps.agentHub.isConnected(doomed.hostId)).toBe(true);

  await db().transaction(async (tx) => {
    await tx.update(hosts).set({ revokedAt: new Date() }).where(eq(hosts.id, doomed.hostId));
    await notifyHostEvent(tx, { event: "revoked", hostId: doomed.hostId });
  });
  const closed = await Promise.race([
    client.closed,
    new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 1_000)),
  ]);
  expect(closed?.code).toBe(CLOSE.revoked);
  expect((await client.waitFrame("error")).code).toBe("host_revoked");
  await waitFor(
    "the hub to drop the host",
    () => !server.testApp.deps.agentHub.isConnected(doomed.hostId),
  );
  await expectRefused(doomed, {}, "host revoked");
});
