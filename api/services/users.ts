import { eq, sql } from "drizzle-orm";
import type { Db, Tx } from "../../db/client.ts";
import { newId } from "../../db/ids.ts";
import { users } from "../../db/schema.ts";
import { hashPassword, normalizeEmail, passwordProblem } from "../auth/passwords.ts";
import { revokeUserSessions } from "../auth/sessions.ts";
import { AppError } from "../errors.ts";
import { type AuditContext, recordAudit } from "./audit.ts";

const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Checks email and password for a new account; throws `invalid_input` naming the field. */
export function checkNewCredentials(email: string, password: string): string {
  const normalized = normalizeEmail(email);
  if (!EMAIL_PATTERN.test(normalized) || normalized.length > 254) {
    throw new AppError("invalid_input", "email: is not a valid email address", {
      email: "is not a valid email address",
    });
  }
  const problem = passwordProblem(password, normalized);
  if (problem) {
    throw new AppError("invalid_input", `password: ${problem}`, { password: problem });
  }
  return normalized;
}

/** Creates a user inside the caller's transaction; a taken email is a 409. */
export async function createUser(
  tx: Tx,
  audit: AuditContext,
  input: { email: string; password: string; isSuperuser: boolean },
): Promise<{ id: string; email: string }> {
  const email = checkNewCredentials(input.email, input.password);
  const [taken] = await tx.select({ id: users.id }).from(users).where(eq(users.email, email));
  if (taken) throw new AppError("conflict", `An account for ${email} already exists`);
  const id = newId("usr");
  await tx.insert(users).values({
    id,
    email,
    passwordHash: await hashPassword(input.password),
    isSuperuser: input.isSuperuser,
  });
  await recordAudit(tx, audit, {
    action: "users.create",
    resourceType: "user",
    resourceId: id,
    outcome: "success",
    details: { email, isSuperuser: input.isSuperuser },
  });
  return { id, email };
}

/** Whether any account exists yet (first-run setup is open only while none does). */
export async function hasAnyUser(db: Db | Tx): Promise<boolean> {
  const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(users);
  return Number(row?.n ?? 0) > 0;
}

/**
 * Sets a new password (policy-checked) and revokes every session of the user except `keep`,
 * so a stolen session dies with the old password.
 */
export async function setPassword(
  tx: Tx,
  audit: AuditContext,
  input: { userId: string; email: string; password: string; keepSessionId?: string; now: Date },
  action: "auth.password_change" | "auth.password_reset",
): Promise<void> {
  const problem = passwordProblem(input.password, input.email);
  if (problem) throw new AppError("invalid_input", `password: ${problem}`, { password: problem });
  await tx
    .update(users)
    .set({ passwordHash: await hashPassword(input.password), passwordChangedAt: input.now })
    .where(eq(users.id, input.userId));
  const revoked = await revokeUserSessions(
    tx,
    input.userId,
    action,
    input.now,
    input.keepSessionId,
  );
  await recordAudit(tx, audit, {
    action,
    resourceType: "user",
    resourceId: input.userId,
    outcome: "success",
    details: { sessionsRevoked: revoked },
  });
}
