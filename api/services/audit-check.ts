import { type Access, requirePermission } from "../auth/route-access.ts";
import type { AppDeps } from "../deps.ts";
import { type AuditContext, recordAuditNow } from "./audit.ts";
import { type AuditVerification, verifyAuditChain } from "./audit-verify.ts";

/**
 * Verifies the hash chain for an admin and records that they did, with the verdict, so a check
 * that found tampering is itself on the record.
 */
export async function verifyAuditLog(
  deps: AppDeps,
  audit: AuditContext,
  access: Access,
): Promise<AuditVerification> {
  requirePermission(access, "audit.read");
  const result = await verifyAuditChain(deps.database.db);
  await recordAuditNow(deps.database.db, audit, {
    action: "audit.verify",
    outcome: "success",
    details: { ok: result.ok, rowsChecked: result.rowsChecked, firstBroken: result.firstBroken },
  });
  return result;
}
