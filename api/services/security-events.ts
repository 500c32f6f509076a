import { and, desc, eq, inArray, isNull, ne, or } from "drizzle-orm";
import { auditLog } from "../../db/schema.ts";
import { describeUserAgent } from "../auth/devices.ts";
import type { AppDeps } from "../deps.ts";

/** The audit actions a user is shown about their own account, and what each is called there. */
const LABELS = {
  "auth.login": "Signed in",
  "auth.new_device": "Sign-in from a new device",
  "auth.refresh_reuse": "An old session token was reused; that session was signed out",
  "auth.password_change": "Password changed",
  "auth.password_reset": "Password reset",
  "auth.totp_enable": "Two-factor authentication turned on",
  "auth.totp_disable": "Two-factor authentication turned off",
  "auth.backup_code_used": "Backup code used",
  "auth.backup_codes_regenerate": "Backup codes regenerated",
  "auth.session_revoke": "A session was signed out",
  "auth.sessions_revoke_others": "All other sessions were signed out",
} as const;

/** One of the actions listed as security events. */
export type SecurityAction = keyof typeof LABELS;

/** Every action {@link recentSecurityEvents} reads. */
export const SECURITY_ACTIONS = Object.keys(LABELS) as SecurityAction[];

const LOGIN_METHODS: Record<string, string> = {
  password: "Signed in with password",
  totp: "Signed in with password and authenticator code",
  backup_code: "Signed in with password and a backup code",
};

/** A row of the account page's "recent security events". */
export interface SecurityEvent {
  id: string;
  occurredAt: Date;
  action: SecurityAction;
  outcome: "success" | "failure" | "denied";
  /** What happened, in words. */
  label: string;
  /** Worth a second look: failed sign-ins, new devices, reused tokens. */
  notable: boolean;
  ip: string | null;
  /** A short browser label ("Firefox 133 on Linux"); the raw user agent is kept beside it. */
  device: string | null;
  userAgent: string | null;
}

const MAX_LIMIT = 100;

/**
 * The user's most recent security events, newest first: what they did themselves (sign-ins, new
 * devices, token reuse, sessions) and what was done to their account by anyone (failed sign-ins,
 * password resets). Rows where the user acted on another user are left out, so an administrator's
 * list does not show other people's password resets as their own.
 */
export async function recentSecurityEvents(
  deps: Pick<AppDeps, "database">,
  userId: string,
  limit = 20,
): Promise<SecurityEvent[]> {
  const rows = await deps.database.db
    .select()
    .from(auditLog)
    .where(and(
      inArray(auditLog.action, SECURITY_ACTIONS),
      or(
        and(eq(auditLog.resourceType, "user"), eq(auditLog.resourceId, userId)),
        and(
          eq(auditLog.actorId, userId),
          or(isNull(auditLog.resourceType), ne(auditLog.resourceType, "user")),
        ),
      ),
    ))
    .orderBy(desc(auditLog.seq))
    .limit(Math.min(Math.max(1, Math.floor(limit)), MAX_LIMIT));
  return rows.map((row) => {
    const action = row.action as SecurityAction;
    return {
      id: row.id,
      occurredAt: row.occurredAt,
      action,
      outcome: row.outcome,
      label: labelOf(action, row.outcome, row.details),
      notable: row.outcome !== "success" || action === "auth.new_device" ||
        action === "auth.refresh_reuse",
      ip: row.ip,
      device: row.userAgent === null ? null : describeUserAgent(row.userAgent),
      userAgent: row.userAgent,
    };
  });
}

function labelOf(
  action: SecurityAction,
  outcome: string,
  details: Record<string, unknown>,
): string {
  if (action === "auth.login") {
    if (outcome !== "success") return "Failed sign-in attempt";
    const method = typeof details.method === "string" ? LOGIN_METHODS[details.method] : undefined;
    return method ?? LABELS[action];
  }
  return LABELS[action];
}
