import { and, desc, eq, gte, like, lt, type SQL } from "drizzle-orm";
import { z } from "zod";
import { auditLog } from "../../db/schema.ts";
import { type Access, requirePermission } from "../auth/route-access.ts";
import type { AppDeps } from "../deps.ts";
import { AppError } from "../errors.ts";
import type { AuditRow } from "./audit.ts";

// Every filter is an id, an action or a timestamp: none is legitimately longer than this.
const text = z.string().min(1, "must not be empty").max(200, "must be at most 200 characters");
const timestamp = z.iso.datetime({
  offset: true,
  message: "must be an ISO 8601 timestamp, e.g. 2026-01-31T12:00:00Z",
});

const filterShape = {
  actor: text.optional(),
  actorKind: z.enum(["user", "api_token", "agent", "system", "anonymous"], {
    message: "must be one of user, api_token, agent, system, anonymous",
  }).optional(),
  action: text.regex(/^[^*]*\*?$/, "may contain `*` only as its last character").optional(),
  resourceType: text.optional(),
  resourceId: text.optional(),
  outcome: z.enum(["success", "failure", "denied"], {
    message: "must be one of success, failure, denied",
  }).optional(),
  /** Inclusive. */
  from: timestamp.optional(),
  /** Exclusive, so consecutive windows never share a row. */
  to: timestamp.optional(),
  tenantId: text.optional(),
};

/** Which audit rows to read: every filter given must match (they combine with AND). */
export const AuditFilterInput = z.object(filterShape).strict().refine(
  (f) => !f.from || !f.to || Date.parse(f.from) < Date.parse(f.to),
  { message: "must be earlier than `to`", path: ["from"] },
);
export type AuditFilterInput = z.infer<typeof AuditFilterInput>;

/** `GET /api/v1/audit`: the filters plus a page size and the previous page's `nextCursor`. */
export const AuditQueryInput = AuditFilterInput.safeExtend({
  limit: z.coerce.number({ message: "must be a number" }).int("must be a whole number")
    .min(1, "must be at least 1").max(200, "must be at most 200").default(50),
  cursor: z.string().max(32, "is not a cursor this API issued")
    .regex(/^[A-Za-z0-9_-]+$/, "is not a cursor this API issued").optional(),
});
export type AuditQueryInput = z.infer<typeof AuditQueryInput>;

/** An audit row as the API returns it: the stored columns, times in ISO 8601. */
export type AuditEntryView = Omit<AuditRow, "occurredAt"> & { occurredAt: string };

/** One page of newest-first entries; `nextCursor` is null on the last page. */
export interface AuditPage {
  entries: AuditEntryView[];
  nextCursor: string | null;
}

/** The stored row as JSON-ready data. */
export function auditEntryView(row: AuditRow): AuditEntryView {
  return { ...row, occurredAt: row.occurredAt.toISOString() };
}

/** Escapes LIKE's wildcards (and its escape character) so user input only ever matches itself. */
export function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (ch) => `\\${ch}`);
}

/** The WHERE clause for `filters`; undefined when there are none. */
export function auditFilterWhere(filters: AuditFilterInput): SQL | undefined {
  const conditions: (SQL | undefined)[] = [];
  const { actor, actorKind, action, resourceType, resourceId, outcome, from, to, tenantId } =
    filters;
  if (actor !== undefined) conditions.push(eq(auditLog.actorId, actor));
  if (actorKind !== undefined) conditions.push(eq(auditLog.actorKind, actorKind));
  if (action !== undefined) {
    conditions.push(
      action.endsWith("*")
        ? like(auditLog.action, `${escapeLike(action.slice(0, -1))}%`)
        : eq(auditLog.action, action),
    );
  }
  if (resourceType !== undefined) conditions.push(eq(auditLog.resourceType, resourceType));
  if (resourceId !== undefined) conditions.push(eq(auditLog.resourceId, resourceId));
  if (outcome !== undefined) conditions.push(eq(auditLog.outcome, outcome));
  if (from !== undefined) conditions.push(gte(auditLog.occurredAt, new Date(from)));
  if (to !== undefined) conditions.push(lt(auditLog.occurredAt, new Date(to)));
  if (tenantId !== undefined) conditions.push(eq(auditLog.tenantId, tenantId));
  return and(...conditions);
}

/**
 * The filters a caller with `permission` may run: a superuser's as given (any tenant, or all);
 * anyone else's pinned to the tenant they act in, so they only ever see their own tenant's rows.
 */
export function scopeAuditFilters<F extends AuditFilterInput>(
  access: Access,
  permission: "audit.read" | "audit.export",
  filters: F,
): F {
  requirePermission(access, permission);
  if (access.grants.superuser) return filters;
  if (filters.tenantId !== undefined && filters.tenantId !== access.tenantId) {
    throw new AppError("forbidden", "Filtering the audit log by tenant needs a superuser account");
  }
  return { ...filters, tenantId: access.tenantId };
}

/** The opaque cursor for "rows older than `seq`". */
export function encodeAuditCursor(seq: number): string {
  return btoa(String(seq)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** The seq a cursor stands for; anything this API did not issue is a 400. */
export function decodeAuditCursor(cursor: string): number {
  let decoded = "";
  try {
    decoded = atob(cursor.replaceAll("-", "+").replaceAll("_", "/"));
  } catch {
    decoded = "";
  }
  const seq = /^[1-9][0-9]{0,15}$/.test(decoded) ? Number(decoded) : NaN;
  if (!Number.isSafeInteger(seq)) {
    throw new AppError("invalid_input", "Invalid query: cursor: is not a cursor this API issued", {
      cursor: "is not a cursor this API issued",
    });
  }
  return seq;
}

/**
 * One page of matching entries, newest first. Pages are keyed on `seq`, so rows appended while
 * someone pages through never shift later pages or appear twice.
 */
export async function searchAudit(
  deps: AppDeps,
  access: Access,
  input: AuditQueryInput,
): Promise<AuditPage> {
  const query = scopeAuditFilters(access, "audit.read", input);
  const before = query.cursor === undefined ? undefined : decodeAuditCursor(query.cursor);
  const rows = await deps.database.db
    .select()
    .from(auditLog)
    .where(
      and(auditFilterWhere(query), before === undefined ? undefined : lt(auditLog.seq, before)),
    )
    .orderBy(desc(auditLog.seq))
    // One extra row tells whether another page exists, so the last page has no cursor.
    .limit(query.limit + 1);
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  return {
    entries: page.map(auditEntryView),
    nextCursor: rows.length > query.limit && last ? encodeAuditCursor(last.seq) : null,
  };
}
