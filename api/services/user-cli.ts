import { asc, eq } from "drizzle-orm";
import type { Db, Tx } from "../../db/client.ts";
import { newId } from "../../db/ids.ts";
import { tenants, users } from "../../db/schema.ts";
import { OWNER_ROLE_ID } from "../auth/permissions.ts";
import { normalizeEmail } from "../auth/passwords.ts";
import { AppError } from "../errors.ts";
import { type AuditContext, recordAudit } from "./audit.ts";
import { addMembership } from "./membership.ts";
import { invalidateUserTokens } from "./user-admin.ts";
import { createUser, setPassword } from "./users.ts";

/** Who acts when `scripts/users.ts` runs: the system, from the server's shell. */
export const CLI_AUDIT: AuditContext = { actor: { kind: "system" }, userAgent: "caddis-cli" };

/** The tenant a new superuser joins when the command names none and none exists yet. */
export const DEFAULT_TENANT_NAME = "Default";

/** What `create-superuser` did. */
export interface CreatedSuperuser {
  userId: string;
  email: string;
  tenantId: string;
  tenantName: string;
  tenantCreated: boolean;
}

// A named tenant is joined if it exists and created if not; with no name, the oldest tenant is
// joined, and "Default" created only when there is none at all.
async function tenantToJoin(tx: Tx, name: string | undefined) {
  const wanted = name?.trim() || undefined;
  const [existing] = await tx
    .select({ id: tenants.id, name: tenants.name })
    .from(tenants)
    .where(wanted === undefined ? undefined : eq(tenants.name, wanted))
    .orderBy(asc(tenants.createdAt), asc(tenants.id))
    .limit(1);
  if (existing) return { ...existing, created: false };
  const tenant = { id: newId("ten"), name: wanted ?? DEFAULT_TENANT_NAME };
  await tx.insert(tenants).values(tenant);
  await recordAudit(tx, CLI_AUDIT, {
    action: "tenants.create",
    resourceType: "tenant",
    resourceId: tenant.id,
    outcome: "success",
    details: { name: tenant.name, via: "cli" },
  });
  return { ...tenant, created: true };
}

/**
 * Creates a superuser from the server's shell (a lost-access recovery path and an alternative to
 * the setup link), with the same email and password policy as the API, and a tenant membership.
 */
export async function createSuperuserFromCli(
  db: Db,
  input: { email: string; password: string; tenantName?: string },
): Promise<CreatedSuperuser> {
  return await db.transaction(async (tx) => {
    const user = await createUser(tx, CLI_AUDIT, { ...input, isSuperuser: true });
    const tenant = await tenantToJoin(tx, input.tenantName);
    await addMembership(tx, { tenantId: tenant.id, userId: user.id, roleIds: [OWNER_ROLE_ID] });
    await recordAudit(tx, { ...CLI_AUDIT, tenantId: tenant.id }, {
      action: "cli.create_superuser",
      resourceType: "user",
      resourceId: user.id,
      outcome: "success",
      details: { via: "cli", email: user.email, tenantName: tenant.name },
    });
    return {
      userId: user.id,
      email: user.email,
      tenantId: tenant.id,
      tenantName: tenant.name,
      tenantCreated: tenant.created,
    };
  });
}

/**
 * Sets a user's password from the server's shell and ends all their sessions. Works on a disabled
 * account too (it stays disabled), so an admin can prepare it before enabling it.
 */
export async function resetPasswordFromCli(
  db: Db,
  input: { email: string; password: string },
  now: Date,
): Promise<{ userId: string; email: string; disabled: boolean }> {
  const email = normalizeEmail(input.email);
  return await db.transaction(async (tx) => {
    const [user] = await tx
      .select({ id: users.id, disabledAt: users.disabledAt })
      .from(users)
      .where(eq(users.email, email))
      .for("update");
    if (!user) throw new AppError("not_found", `No account with the email ${email}`);
    await invalidateUserTokens(tx, user.id, ["mfa", "password_reset"], now);
    await setPassword(tx, CLI_AUDIT, {
      userId: user.id,
      email,
      password: input.password,
      now,
    }, "auth.password_reset");
    await recordAudit(tx, CLI_AUDIT, {
      action: "cli.reset_password",
      resourceType: "user",
      resourceId: user.id,
      outcome: "success",
      details: { via: "cli", email },
    });
    return { userId: user.id, email, disabled: user.disabledAt !== null };
  });
}
