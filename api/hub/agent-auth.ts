// Checks an agent's answer to the challenge: the host it claims exists, is enrolled and not
// revoked, the nonce is the one this connection sent, the signing time is recent, and the
// signature verifies against the public key stored at enrolment.
import type { AgentFrame } from "../../agent/protocol/frames.ts";
import { authMessage, importPublicKey, verifyText } from "../../agent/protocol/signing.ts";
import type { Db } from "../../db/client.ts";
import type { AppDeps } from "../deps.ts";
import type { HostRef } from "../services/agent-commands.ts";
import { findHostCredentials, recordAuthFailure } from "../services/agent-sessions.ts";

/** The `auth` frame an agent sends in answer to the challenge. */
export type AuthFrame = Extract<AgentFrame, { type: "auth" }>;

/** Accepted with the host it proved to be, or refused with a reason for the log and audit. */
export type AuthVerdict =
  | { ok: true; host: HostRef }
  | { ok: false; reason: string; tenantId: string | undefined };

/** What the answer is checked against: this connection's nonce, the time, the allowed skew. */
export interface AuthExpectation {
  nonce: string;
  now: Date;
  clockSkewMs: number;
}

/**
 * Verifies a challenge answer. The host's public key is imported for this one check and not
 * kept: a key changed or revoked in the database applies to the very next connection.
 */
export async function checkAuthAnswer(
  db: Db,
  answer: AuthFrame,
  expected: AuthExpectation,
): Promise<AuthVerdict> {
  const host = await findHostCredentials(db, answer.hostId);
  const refuse = (reason: string): AuthVerdict => ({ ok: false, reason, tenantId: host?.tenantId });
  if (!host) return refuse("unknown host");
  if (host.revokedAt) return refuse("host revoked");
  if (!host.publicKey) return refuse("host not enrolled");
  // A replayed answer carries the nonce of the connection it was recorded on.
  if (answer.nonce !== expected.nonce) return refuse("nonce does not match this connection's");
  const signedAt = Date.parse(answer.signedAt);
  if (Math.abs(signedAt - expected.now.getTime()) > expected.clockSkewMs) {
    return refuse(`signedAt ${answer.signedAt} is outside the allowed clock skew`);
  }
  let key: CryptoKey;
  try {
    key = await importPublicKey(host.publicKey);
  } catch {
    return refuse("the stored public key is unusable");
  }
  const message = authMessage({
    nonce: answer.nonce,
    hostId: answer.hostId,
    signedAt: answer.signedAt,
  });
  if (!(await verifyText(key, message, answer.signature))) return refuse("bad signature");
  return { ok: true, host: { id: host.id, tenantId: host.tenantId, name: host.name } };
}

/**
 * Checks a challenge answer for a socket from `ip`; returns the host it proved to be, or
 * undefined after logging and auditing the refusal (with the claimed host id, never the signature).
 */
export async function admitAgent(
  deps: AppDeps,
  answer: AuthFrame,
  expected: Omit<AuthExpectation, "now"> & { ip: string | undefined },
): Promise<HostRef | undefined> {
  const verdict = await checkAuthAnswer(deps.database.db, answer, { ...expected, now: deps.now() });
  if (verdict.ok) return verdict.host;
  deps.log.warn(
    { claimedHostId: answer.hostId, reason: verdict.reason, ip: expected.ip },
    "agent hub: challenge answer refused",
  );
  try {
    await recordAuthFailure(deps.database.db, {
      claimedHostId: answer.hostId,
      tenantId: verdict.tenantId,
      ip: expected.ip,
    }, verdict.reason);
  } catch (err) {
    deps.log.error({ err }, "agent hub: could not audit a refused challenge answer");
  }
  return undefined;
}
