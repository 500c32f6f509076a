import { eq } from "drizzle-orm";
import type { Tx } from "../../db/client.ts";
import { tenants } from "../../db/schema.ts";
import type { AppDeps } from "../deps.ts";
import { AppError } from "../errors.ts";
import { type AuditContext, recordAuditNow } from "./audit.ts";

/**
 * Serialises changes to one tenant's roles and memberships: two edits that are each fine alone
 * (A inherits B, B inherits A; two owners removing each other) can no longer both commit.
 */
export async function lockTenant(tx: Tx, tenantId: string): Promise<void> {
  await tx.select({ id: tenants.id }).from(tenants).where(eq(tenants.id, tenantId))
    .for("no key update");
}

/** What an audited change is about, before its outcome is known. */
export type ChangeSubject = { action: string; resourceType: string; resourceId?: string };

/**
 * Runs a change in one transaction. A refusal (403) rolls it back but is still recorded as
 * `denied`: someone trying to hand out more than they hold is worth a reviewer's look.
 */
export async function auditedChange<T>(
  deps: AppDeps,
  audit: AuditContext,
  subject: ChangeSubject,
  body: (tx: Tx) => Promise<T>,
): Promise<T> {
  try {
    return await deps.database.db.transaction(body);
  } catch (err) {
    if (err instanceof AppError && err.code === "forbidden") {
      await recordAuditNow(deps.database.db, audit, {
        ...subject,
        outcome: "denied",
        details: { reason: err.message },
      });
    }
    throw err;
  }
}
