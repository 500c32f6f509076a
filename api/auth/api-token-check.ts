import { and, eq, gt, isNull, sql } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { apiTokens, memberships, tenants, users } from "../../db/schema.ts";
import type { RequestAuth } from "../deps.ts";
import { epochCache } from "./epoch-cache.ts";
import { type AllowlistCheck, compileAllowlist } from "./ip-allowlist.ts";
import { isPermission, type Permission } from "./permissions.ts";
import { hashesEqual, hashToken } from "./tokens.ts";

/** What every personal API token starts with, so secret scanners can recognise a leaked one. */
export const API_TOKEN_PREFIX = "cdt_";

// `cdt_` + the 24 random characters of the row id `tok_…` + a 32-character secret (160 bits).
const TOKEN_SHAPE = /^cdt_([a-z2-7]{24})([a-z2-7]{32})$/;

/** The secret a token's owner is shown once: `cdt_<id part><secret>`. */
export function formatApiToken(tokenId: string, secret: string): string {
  return `${API_TOKEN_PREFIX}${tokenId.slice("tok_".length)}${secret}`;
}

/** Splits a presented token into its row id and secret; undefined when it is not shaped like one. */
export function parseApiToken(value: string): { id: string; secret: string } | undefined {
  const match = TOKEN_SHAPE.exec(value);
  return match?.[1] && match[2] ? { id: `tok_${match[1]}`, secret: match[2] } : undefined;
}

// Writing last-used on every request would turn every read into a write; once a minute is enough.
const LAST_USED_RESOLUTION_MS = 60_000;
// Bounds the cache's memory; past this many live tokens it starts afresh.
const MAX_CACHED_TOKENS = 10_000;

interface CachedToken {
  secretHash: string;
  auth: RequestAuth;
  allowed: AllowlistCheck;
  expiresAt: number;
  lastUsedAt: number;
}

/** The per-request API token check: the caller a valid token stands for, else undefined. */
export type ApiTokenValidator = (
  token: string,
  clientIp: string | undefined,
  now: Date,
) => Promise<RequestAuth | undefined>;

/**
 * Builds the API token check, shaped like the session check: one prepared join, its answer
 * cached per token with the auth epoch it was read under. Triggers bump the epoch on revocation,
 * expiry or permission changes and on any change to users or memberships (removing a member
 * deletes their tokens through the foreign key), so a revoked token fails on its next request.
 */
export function apiTokenValidator(db: Db): ApiTokenValidator {
  const lookup = db
    .select({
      secretHash: apiTokens.secretHash,
      userId: apiTokens.userId,
      tenantId: apiTokens.tenantId,
      permissions: apiTokens.permissions,
      ipAllowlist: apiTokens.ipAllowlist,
      expiresAt: apiTokens.expiresAt,
      lastUsedAt: apiTokens.lastUsedAt,
      email: users.email,
      isSuperuser: users.isSuperuser,
      totpEnabledAt: users.totpEnabledAt,
      tenantRequires2fa: sql<boolean>`exists (
        select 1 from ${memberships} join ${tenants} on ${tenants.id} = ${memberships.tenantId}
        where ${memberships.userId} = ${users.id} and ${tenants.require2fa})`,
    })
    .from(apiTokens)
    .innerJoin(users, eq(users.id, apiTokens.userId))
    .where(and(
      eq(apiTokens.id, sql.placeholder("tokenId")),
      isNull(apiTokens.revokedAt),
      isNull(users.disabledAt),
      gt(apiTokens.expiresAt, sql.placeholder("now")),
    ))
    .prepare("caddis_api_token_check");
  const cache = epochCache<string, CachedToken>(db, MAX_CACHED_TOKENS);

  async function check(tokenId: string, now: Date): Promise<CachedToken | undefined> {
    // An ISO string, not a Date: postgres-js does not encode Dates bound to placeholders.
    const [row] = await lookup.execute({ tokenId, now: now.toISOString() });
    if (!row) return undefined;
    return {
      secretHash: row.secretHash,
      auth: {
        sessionId: "",
        userId: row.userId,
        email: row.email,
        isSuperuser: false,
        totpEnabled: row.totpEnabledAt !== null,
        mustEnrolTotp: row.totpEnabledAt === null && row.tenantRequires2fa,
        tenantIds: [row.tenantId],
        via: "token",
        token: {
          id: tokenId,
          permissions: new Set(row.permissions.filter(isPermission) as Permission[]),
          ownerIsSuperuser: row.isSuperuser,
        },
      },
      allowed: compileAllowlist(row.ipAllowlist),
      expiresAt: row.expiresAt.getTime(),
      lastUsedAt: row.lastUsedAt?.getTime() ?? 0,
    };
  }

  return async (token, clientIp, now) => {
    const parts = parseApiToken(token);
    if (!parts) return undefined;
    const authEpoch = await cache.readEpoch();
    const entry = await cache.get(
      parts.id,
      authEpoch,
      () => check(parts.id, now),
      (cached) => cached.expiresAt > now.getTime(),
    );
    if (!entry) return undefined;
    if (!hashesEqual(entry.secretHash, hashToken(parts.secret))) return undefined;
    if (!entry.allowed(clientIp)) return undefined;
    if (now.getTime() - entry.lastUsedAt > LAST_USED_RESOLUTION_MS) {
      entry.lastUsedAt = now.getTime();
      await db.update(apiTokens).set({ lastUsedAt: now, lastUsedIp: clientIp ?? null })
        .where(eq(apiTokens.id, parts.id));
    }
    return { ...entry.auth, authEpoch };
  };
}
