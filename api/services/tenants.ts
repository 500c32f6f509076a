import { eq } from "drizzle-orm";
import { z } from "zod";
import { newId } from "../../db/ids.ts";
import { memberships, tenants } from "../../db/schema.ts";
import { OWNER_ROLE_ID } from "../auth/permissions.ts";
import { type Access, requirePermission } from "../auth/route-access.ts";
import type { AppDeps, RequestAuth } from "../deps.ts";
import { AppError } from "../errors.ts";
import { type AuditContext, recordAudit } from "./audit.ts";
import { addMembership } from "./membership.ts";

/** Tenant settings a superuser can change (more arrive with tenant management). */
export const UpdateTenantInput = z.object({ require2fa: z.boolean() }).strict();
export type UpdateTenantInput = z.infer<typeof UpdateTenantInput>;

/** `POST /api/v1/tenants`: a new organisation (superusers only). */
export const CreateTenantInput = z.object({
  name: z.string().trim().min(1, "is required").max(100, "is too long"),
}).strict();
export type CreateTenantInput = z.infer<typeof CreateTenantInput>;

/** A tenant as the API shows it. */
export interface TenantView {
  id: string;
  name: string;
  require2fa: boolean;
  createdAt: string;
}

function view(row: typeof tenants.$inferSelect): TenantView {
  return {
    id: row.id,
    name: row.name,
    require2fa: row.require2fa,
    createdAt: row.createdAt.toISOString(),
  };
}

/** The tenants the caller belongs to; a superuser sees every tenant. */
export async function listTenants(deps: AppDeps, auth: RequestAuth): Promise<TenantView[]> {
  const { db } = deps.database;
  const rows = auth.isSuperuser
    ? await db.select().from(tenants).orderBy(tenants.createdAt)
    : (await db
      .select({ tenant: tenants })
      .from(tenants)
      .innerJoin(memberships, eq(memberships.tenantId, tenants.id))
      .where(eq(memberships.userId, auth.userId))
      .orderBy(tenants.createdAt)).map((r) => r.tenant);
  return rows.map(view);
}

/** Creates an organisation; the superuser who creates it becomes its first member and owner. */
export async function createTenant(
  deps: AppDeps,
  audit: AuditContext,
  auth: RequestAuth,
  input: CreateTenantInput,
): Promise<TenantView> {
  if (!auth.isSuperuser) throw new AppError("forbidden", "Only a superuser can create a tenant");
  return await deps.database.db.transaction(async (tx) => {
    const [row] = await tx.insert(tenants).values({ id: newId("ten"), name: input.name })
      .returning();
    if (!row) throw new Error("tenant insert returned no row");
    await addMembership(tx, { tenantId: row.id, userId: auth.userId, roleIds: [OWNER_ROLE_ID] });
    await recordAudit(tx, { ...audit, tenantId: row.id }, {
      action: "tenants.create",
      resourceType: "tenant",
      resourceId: row.id,
      outcome: "success",
      details: { name: row.name },
    });
    return view(row);
  });
}

/**
 * Turns the tenant-wide 2FA requirement on or off (`tenants.update`): members without 2FA can
 * then reach nothing but enrolment until they enable it.
 */
export async function setTenantTwoFactorRequirement(
  deps: AppDeps,
  audit: AuditContext,
  access: Access,
  required: boolean,
): Promise<TenantView> {
  requirePermission(access, "tenants.update");
  const { tenantId } = access;
  return await deps.database.db.transaction(async (tx) => {
    const [row] = await tx
      .update(tenants)
      .set({ require2fa: required })
      .where(eq(tenants.id, tenantId))
      .returning();
    if (!row) throw new AppError("not_found", `Tenant "${tenantId}" not found`);
    await recordAudit(tx, { ...audit, tenantId }, {
      action: "tenants.update",
      resourceType: "tenant",
      resourceId: tenantId,
      outcome: "success",
      details: { require2fa: required },
    });
    return view(row);
  });
}
