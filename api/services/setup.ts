import { and, eq, gt, isNull, sql } from "drizzle-orm";
import { newId } from "../../db/ids.ts";
import { oneTimeTokens, tenants } from "../../db/schema.ts";
import { OWNER_ROLE_ID } from "../auth/permissions.ts";
import { recogniseDevice } from "../auth/devices.ts";
import { hashToken, randomSecret } from "../auth/tokens.ts";
import type { AppDeps } from "../deps.ts";
import { AppError } from "../errors.ts";
import { type AuditContext, recordAudit } from "./audit.ts";
import { addMembership } from "./membership.ts";
import type { SetupInput } from "./auth-inputs.ts";
import { type IssuedTokens, startSession } from "./auth-tokens.ts";
import { createUser, hasAnyUser } from "./users.ts";

/** A first-run setup link is good for one hour and one use. */
export const SETUP_TOKEN_TTL_MS = 60 * 60 * 1000;

// Serialises setup attempts: two racing requests must not both create a first superuser.
const SETUP_LOCK_KEY = 7_242_180_603;

/**
 * When no account exists, issues a fresh setup token (older unused ones die) and returns the
 * URL to print; undefined once setup is done. Only the token's hash is stored.
 */
export async function prepareSetup(deps: AppDeps): Promise<string | undefined> {
  const now = deps.now();
  return await deps.database.db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${SETUP_LOCK_KEY})`);
    if (await hasAnyUser(tx)) return undefined;
    await tx
      .update(oneTimeTokens)
      .set({ usedAt: now })
      .where(and(eq(oneTimeTokens.purpose, "setup"), isNull(oneTimeTokens.usedAt)));
    const token = randomSecret(32);
    await tx.insert(oneTimeTokens).values({
      id: newId("ott"),
      purpose: "setup",
      tokenHash: hashToken(token),
      createdAt: now,
      expiresAt: new Date(now.getTime() + SETUP_TOKEN_TTL_MS),
    });
    return `${deps.config.publicUrl}/setup?token=${token}`;
  });
}

/** Whether a setup link is still good, so the page can say so before the form is filled in. */
export async function isSetupTokenLive(deps: AppDeps, token: string): Promise<boolean> {
  const [row] = await deps.database.db
    .select({ id: oneTimeTokens.id })
    .from(oneTimeTokens)
    .where(and(
      eq(oneTimeTokens.purpose, "setup"),
      eq(oneTimeTokens.tokenHash, hashToken(token)),
      isNull(oneTimeTokens.usedAt),
      gt(oneTimeTokens.expiresAt, deps.now()),
    ));
  return row !== undefined;
}

/** Creates the first superuser and tenant with a valid setup token, and signs them in. */
export async function completeSetup(
  deps: AppDeps,
  audit: AuditContext,
  input: SetupInput,
  /** The browser's device cookie, if it has one, so this browser is known from the start. */
  deviceToken?: string,
): Promise<{ userId: string; sessionId: string; tokens: IssuedTokens; deviceToken: string }> {
  const now = deps.now();
  return await deps.database.db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${SETUP_LOCK_KEY})`);
    if (await hasAnyUser(tx)) {
      throw new AppError("conflict", "Setup is already complete; sign in instead");
    }
    const [token] = await tx
      .update(oneTimeTokens)
      .set({ usedAt: now })
      .where(and(
        eq(oneTimeTokens.purpose, "setup"),
        eq(oneTimeTokens.tokenHash, hashToken(input.token)),
        isNull(oneTimeTokens.usedAt),
        gt(oneTimeTokens.expiresAt, now),
      ))
      .returning({ id: oneTimeTokens.id });
    if (!token) {
      throw new AppError(
        "forbidden",
        "The setup link is invalid, used or expired; restart Caddis to print a new one",
      );
    }
    const systemAudit = { ...audit, actor: { kind: "system" as const } };
    const user = await createUser(tx, systemAudit, { ...input, isSuperuser: true });
    const tenantId = newId("ten");
    await tx.insert(tenants).values({ id: tenantId, name: input.tenantName.trim() });
    await addMembership(tx, { tenantId, userId: user.id, roleIds: [OWNER_ROLE_ID] });
    const userAudit = { ...audit, actor: { kind: "user" as const, id: user.id }, tenantId };
    await recordAudit(tx, userAudit, {
      action: "setup.complete",
      resourceType: "tenant",
      resourceId: tenantId,
      outcome: "success",
      details: { email: user.email, tenantName: input.tenantName.trim() },
    });
    const device = await recogniseDevice(tx, {
      userId: user.id,
      deviceToken,
      userAgent: audit.userAgent,
      ip: audit.ip,
      now,
    });
    const session = await startSession(deps, tx, user.id, {
      ip: audit.ip,
      userAgent: audit.userAgent,
      deviceId: device.deviceId,
    }, now);
    return { userId: user.id, ...session, deviceToken: device.deviceToken };
  });
}
