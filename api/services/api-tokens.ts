import { and, desc, eq, type SQL } from "drizzle-orm";
import type { Tx } from "../../db/client.ts";
import { newId } from "../../db/ids.ts";
import { apiTokens, memberships, users } from "../../db/schema.ts";
import { tenantVisibleTo } from "../auth/active-tenant.ts";
import { formatApiToken } from "../auth/api-token-check.ts";
import { missingPermissions } from "../auth/grants.ts";
import { type Access, grantsFor, requirePermission } from "../auth/route-access.ts";
import { hashToken, randomSecret } from "../auth/tokens.ts";
import type { AppDeps, RequestAuth } from "../deps.ts";
import { AppError } from "../errors.ts";
import type { CreateApiTokenInput } from "./api-token-inputs.ts";
import { type AuditContext, recordAudit } from "./audit.ts";

const DAY_MS = 24 * 60 * 60 * 1000;

/** A token as its owner and tenant admins see it: never its secret, nor the secret's hash. */
export interface TokenView {
  id: string;
  name: string;
  tenantId: string;
  permissions: string[];
  ipAllowlist: string[];
  createdAt: string;
  expiresAt: string;
  lastUsedAt: string | null;
  lastUsedIp: string | null;
  revokedAt: string | null;
  expired: boolean;
}

/** A tenant's token as `tokens.manage` holders see it: with whose it is. */
export interface TenantTokenView extends TokenView {
  userId: string;
  ownerEmail: string;
}

type TokenRow = typeof apiTokens.$inferSelect;

function view(row: TokenRow, now: Date): TokenView {
  return {
    id: row.id,
    name: row.name,
    tenantId: row.tenantId,
    permissions: row.permissions,
    ipAllowlist: row.ipAllowlist,
    createdAt: row.createdAt.toISOString(),
    expiresAt: row.expiresAt.toISOString(),
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    lastUsedIp: row.lastUsedIp,
    revokedAt: row.revokedAt?.toISOString() ?? null,
    expired: row.expiresAt <= now,
  };
}

// One answer for a missing token and someone else's, so ids cannot be probed.
function tokenNotFound(): AppError {
  return new AppError("not_found", "API token not found");
}

// Personal tokens are made by a person: a token must never mint or manage tokens of its own.
function requireSession(auth: RequestAuth): void {
  if (auth.via === "token") {
    throw new AppError("forbidden", "API tokens cannot manage API tokens: sign in to do this");
  }
}

// The token row hangs off the membership (removing the member deletes it), so a superuser must
// join first; the lock keeps a concurrent removal from slipping in before the insert.
async function lockMembership(tx: Tx, tenantId: string, userId: string): Promise<void> {
  const [member] = await tx.select({ userId: memberships.userId }).from(memberships)
    .where(and(eq(memberships.tenantId, tenantId), eq(memberships.userId, userId)))
    .for("share");
  if (!member) {
    throw new AppError("conflict", "API tokens act as a member: join this tenant first");
  }
}

/**
 * Creates a personal API token acting in one tenant with at most `permissions`, all of which the
 * owner must hold there now. The secret is returned once and only its SHA-256 is stored.
 */
export async function createApiToken(
  deps: AppDeps,
  audit: AuditContext,
  auth: RequestAuth,
  activeTenantId: string | undefined,
  input: CreateApiTokenInput,
): Promise<{ token: TokenView; secret: string }> {
  requireSession(auth);
  const tenantId = input.tenantId ?? activeTenantId;
  if (!tenantId || !(await tenantVisibleTo(deps, auth, tenantId))) {
    throw new AppError("not_found", "Tenant not found");
  }
  const missing = missingPermissions(await grantsFor(deps, auth, tenantId), input.permissions);
  if (missing.length > 0) {
    throw new AppError(
      "forbidden",
      `A token cannot hold permissions you do not have here: ${missing.join(", ")}`,
    );
  }
  const now = deps.now();
  const id = newId("tok");
  const secret = randomSecret(20);
  return await deps.database.db.transaction(async (tx) => {
    await lockMembership(tx, tenantId, auth.userId);
    const [row] = await tx.insert(apiTokens).values({
      id,
      userId: auth.userId,
      tenantId,
      name: input.name,
      secretHash: hashToken(secret),
      permissions: input.permissions,
      ipAllowlist: input.ipAllowlist ?? [],
      createdAt: now,
      expiresAt: new Date(now.getTime() + input.expiresInDays * DAY_MS),
    }).returning();
    if (!row) throw new Error("api token insert returned no row");
    await recordAudit(tx, { ...audit, tenantId }, {
      action: "tokens.create",
      resourceType: "api_token",
      resourceId: id,
      outcome: "success",
      details: {
        name: row.name,
        permissions: row.permissions,
        ipAllowlist: row.ipAllowlist,
        expiresAt: row.expiresAt.toISOString(),
      },
    });
    return { token: view(row, now), secret: formatApiToken(id, secret) };
  });
}

/** The caller's own tokens in every tenant, newest first, revoked and expired ones included. */
export async function listOwnApiTokens(deps: AppDeps, auth: RequestAuth): Promise<TokenView[]> {
  requireSession(auth);
  const now = deps.now();
  const rows = await deps.database.db.select().from(apiTokens)
    .where(eq(apiTokens.userId, auth.userId))
    .orderBy(desc(apiTokens.createdAt), desc(apiTokens.id));
  return rows.map((row) => view(row, now));
}

/** Every member's tokens in the tenant `access` acts in (`tokens.manage`), newest first. */
export async function listTenantApiTokens(
  deps: AppDeps,
  access: Access,
): Promise<TenantTokenView[]> {
  requirePermission(access, "tokens.manage");
  const now = deps.now();
  const rows = await deps.database.db
    .select({ token: apiTokens, ownerEmail: users.email })
    .from(apiTokens)
    .innerJoin(users, eq(users.id, apiTokens.userId))
    .where(eq(apiTokens.tenantId, access.tenantId))
    .orderBy(desc(apiTokens.createdAt), desc(apiTokens.id));
  return rows.map((r) => ({
    ...view(r.token, now),
    userId: r.token.userId,
    ownerEmail: r.ownerEmail,
  }));
}

// Revokes the token matching `scope`, locked so two revocations write one audit row.
async function revokeWhere(deps: AppDeps, audit: AuditContext, scope: SQL | undefined) {
  const now = deps.now();
  await deps.database.db.transaction(async (tx) => {
    const [row] = await tx.select().from(apiTokens).where(scope).for("update");
    if (!row) throw tokenNotFound();
    if (row.revokedAt) return;
    await tx.update(apiTokens).set({ revokedAt: now }).where(eq(apiTokens.id, row.id));
    await recordAudit(tx, { ...audit, tenantId: row.tenantId }, {
      action: "tokens.revoke",
      resourceType: "api_token",
      resourceId: row.id,
      outcome: "success",
      details: { name: row.name, ownerId: row.userId },
    });
  });
}

/** Revokes one of the caller's own tokens; another user's id is answered like a missing one. */
export async function revokeOwnApiToken(
  deps: AppDeps,
  audit: AuditContext,
  auth: RequestAuth,
  tokenId: string,
): Promise<void> {
  requireSession(auth);
  await revokeWhere(deps, audit, and(eq(apiTokens.id, tokenId), eq(apiTokens.userId, auth.userId)));
}

/** Revokes any member's token in the tenant `access` acts in (`tokens.manage`). */
export async function revokeTenantApiToken(
  deps: AppDeps,
  audit: AuditContext,
  access: Access,
  tokenId: string,
): Promise<void> {
  requirePermission(access, "tokens.manage");
  const scope = and(eq(apiTokens.id, tokenId), eq(apiTokens.tenantId, access.tenantId));
  await revokeWhere(deps, audit, scope);
}
