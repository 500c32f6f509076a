// Enrolment: the API hands out a one-time token (only its hash stored, valid one hour), and an
// agent trades it once for its host id and the API's public key, registering its own public key.
import { and, eq, gt, isNull } from "drizzle-orm";
import {
  AGENT_SOCKET_PATH,
  type EnrolRequest,
  type EnrolResponse,
} from "../../agent/protocol/enrolment.ts";
import { isPublicKey } from "../../agent/protocol/signing.ts";
import type { Tx } from "../../db/client.ts";
import { newId } from "../../db/ids.ts";
import { hosts } from "../../db/schema.ts";
import { type Access, requirePermission } from "../auth/route-access.ts";
import { hashToken, randomSecret } from "../auth/tokens.ts";
import type { AppDeps } from "../deps.ts";
import { AppError } from "../errors.ts";
import { type AuditContext, recordAudit } from "./audit.ts";
import { type CreateHostInput, HostName } from "./host-inputs.ts";
import { getLiveHostOrThrow, type HostRow, type HostView, hostView } from "./host-view.ts";

/** How long an enrolment token stays usable. */
export const ENROLMENT_TTL_MS = 60 * 60 * 1000;

/** What to run on a new host, shown once: the token travels in the environment, never argv. */
export interface Enrolment {
  token: string;
  expiresAt: string;
  command: string;
}

// One message for every token that cannot be used, so none can be told apart by probing.
const DEAD_TOKEN =
  "This enrolment token is not valid: it is unknown, already used, expired, or its host was " +
  "revoked. Ask for a new enrolment command.";

// Bare when it cannot mean anything else to a shell, single-quoted otherwise.
function shellWord(text: string): string {
  return /^[A-Za-z0-9._~:/@%+=,[\]-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

/** The exact shell command that enrols a host with `token` and starts its agent. */
export function enrolmentCommand(publicUrl: string, token: string): string {
  return `CADDIS_ENROL_TOKEN=${token} bun agent/main.ts enroll --api ${shellWord(publicUrl)} ` +
    "&& bun agent/main.ts run";
}

// A fresh token `cde_` + 52 base32 characters (ENROLMENT_TOKEN_PATTERN), its hash and expiry.
function newEnrolmentToken(deps: AppDeps) {
  const token = `cde_${randomSecret(32)}`;
  const expiresAt = new Date(deps.now().getTime() + ENROLMENT_TTL_MS);
  return { token, hash: hashToken(token), expiresAt };
}

function enrolmentOf(deps: AppDeps, token: string, expiresAt: Date): Enrolment {
  return {
    token,
    expiresAt: expiresAt.toISOString(),
    command: enrolmentCommand(deps.config.publicUrl, token),
  };
}

/**
 * Inserts a host with a fresh enrolment token in the caller's transaction; no permission check
 * and no audit row (callers do both). A name taken by a live host of the tenant is a 409.
 */
export async function createHostRecord(
  tx: Tx,
  deps: AppDeps,
  input: { tenantId: string; name: string; isLocal: boolean; createdBy: string | null },
): Promise<{ host: HostView; token: string; expiresAt: Date }> {
  const name = HostName.safeParse(input.name);
  if (!name.success) {
    const problem = name.error.issues[0]?.message ?? "is not valid";
    throw new AppError("invalid_input", `Invalid host name: ${problem}`, { name: problem });
  }
  const { token, hash, expiresAt } = newEnrolmentToken(deps);
  // DO NOTHING rather than an error, which would abort the caller's whole transaction.
  const [row] = await tx.insert(hosts).values({
    id: newId("host"),
    tenantId: input.tenantId,
    name: name.data,
    isLocal: input.isLocal,
    createdBy: input.createdBy,
    createdAt: deps.now(),
    enrolmentTokenHash: hash,
    enrolmentExpiresAt: expiresAt,
  }).onConflictDoNothing().returning();
  if (!row) {
    const [clash] = await tx.select({ id: hosts.id }).from(hosts).where(
      and(eq(hosts.tenantId, input.tenantId), eq(hosts.name, name.data), isNull(hosts.revokedAt)),
    );
    throw new AppError(
      "conflict",
      clash || !input.isLocal
        ? `A host named "${name.data}" already exists`
        : "The local host is already enrolled",
    );
  }
  return { host: hostView(row, deps.now()), token, expiresAt };
}

/** Adds a host (`hosts.create`) and returns it with its one-time enrolment command. */
export async function createHost(
  deps: AppDeps,
  access: Access,
  audit: AuditContext,
  input: CreateHostInput,
): Promise<{ host: HostView; enrolment: Enrolment }> {
  requirePermission(access, "hosts.create");
  return await deps.database.db.transaction(async (tx) => {
    const created = await createHostRecord(tx, deps, {
      tenantId: access.tenantId,
      name: input.name,
      isLocal: false,
      createdBy: access.auth.userId,
    });
    await recordAudit(tx, { ...audit, tenantId: access.tenantId }, {
      action: "host.create",
      resourceType: "host",
      resourceId: created.host.id,
      outcome: "success",
      details: { name: created.host.name },
    });
    return { host: created.host, enrolment: enrolmentOf(deps, created.token, created.expiresAt) };
  });
}

/**
 * Replaces a host's enrolment token with a fresh one-hour token in the caller's transaction; no
 * permission check and no audit row (callers do both).
 */
export async function renewEnrolmentToken(
  tx: Tx,
  deps: AppDeps,
  hostId: string,
): Promise<{ token: string; expiresAt: Date; row: HostRow }> {
  const { token, hash, expiresAt } = newEnrolmentToken(deps);
  const [row] = await tx.update(hosts)
    .set({ enrolmentTokenHash: hash, enrolmentExpiresAt: expiresAt })
    .where(eq(hosts.id, hostId))
    .returning();
  if (!row) throw new Error(`host ${hostId} vanished while its enrolment token was renewed`);
  return { token, expiresAt, row };
}

/**
 * A new one-hour enrolment token for an existing host (`hosts.update`), replacing any unused
 * one. On an enrolled host it re-keys: the agent that uses it replaces the stored public key.
 */
export async function reissueEnrolment(
  deps: AppDeps,
  access: Access,
  audit: AuditContext,
  hostId: string,
): Promise<{ host: HostView; enrolment: Enrolment }> {
  requirePermission(access, "hosts.update");
  return await deps.database.db.transaction(async (tx) => {
    const host = await getLiveHostOrThrow(tx, access.tenantId, hostId, "update");
    const { token, expiresAt, row } = await renewEnrolmentToken(tx, deps, host.id);
    await recordAudit(tx, { ...audit, tenantId: access.tenantId }, {
      action: "host.reissue_enrolment",
      resourceType: "host",
      resourceId: host.id,
      outcome: "success",
      details: { name: host.name, rekey: host.enrolledAt !== null },
    });
    return { host: hostView(row, deps.now()), enrolment: enrolmentOf(deps, token, expiresAt) };
  });
}

/**
 * Spends an enrolment token (`POST /api/v1/agent/enroll`, no user): stores the agent's public
 * key and answers with the host id and the API's public key for the agent to pin. The token is
 * consumed by one conditional UPDATE, so of two agents racing with it exactly one wins. A host
 * that had a key gets the new one; the hub checks the stored key at every challenge.
 */
export async function enrolHost(
  deps: AppDeps,
  audit: AuditContext,
  request: EnrolRequest,
): Promise<EnrolResponse> {
  if (!isPublicKey(request.publicKey)) {
    throw new AppError("invalid_input", "Invalid publicKey: is not an Ed25519 public key", {
      publicKey: "is not an Ed25519 public key",
    });
  }
  const now = deps.now();
  const enrolled = await deps.database.db.transaction(async (tx) => {
    const [row] = await tx.update(hosts)
      .set({
        enrolmentTokenHash: null,
        enrolmentExpiresAt: null,
        publicKey: request.publicKey,
        enrolledAt: now,
      })
      .where(and(
        eq(hosts.enrolmentTokenHash, hashToken(request.token)),
        gt(hosts.enrolmentExpiresAt, now),
        isNull(hosts.revokedAt),
      ))
      .returning({ id: hosts.id, tenantId: hosts.tenantId, name: hosts.name });
    if (!row) return undefined;
    await recordAudit(tx, {
      ...audit,
      actor: { kind: "agent", id: row.id },
      tenantId: row.tenantId,
    }, {
      action: "host.enrolled",
      resourceType: "host",
      resourceId: row.id,
      outcome: "success",
      details: { name: row.name, hostname: request.hostname },
    });
    return row;
  });
  if (!enrolled) {
    deps.log.warn({ ip: audit.ip }, "agent enrolment refused: unknown, used or expired token");
    throw new AppError("bad_request", DEAD_TOKEN);
  }
  return {
    hostId: enrolled.id,
    apiPublicKey: deps.commandSigner.publicKey,
    wsPath: AGENT_SOCKET_PATH,
  };
}
