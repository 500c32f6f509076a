import { bigint, index, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Append-only, hash-chained record of everything that changed and who did it. A trigger (in the
 * migrations) rejects UPDATE, DELETE and TRUNCATE; `seq` is gap-free so a removed row shows.
 */
export const auditLog = pgTable("audit_log", {
  seq: bigint("seq", { mode: "number" }).primaryKey(),
  id: text("id").notNull().unique(),
  occurredAt: timestamp("occurred_at", { withTimezone: true, precision: 3, mode: "date" }).notNull(),
  actorKind: text("actor_kind", { enum: ["user", "api_token", "agent", "system", "anonymous"] })
    .notNull(),
  actorId: text("actor_id"),
  tenantId: text("tenant_id"),
  ip: text("ip"),
  userAgent: text("user_agent"),
  requestId: text("request_id"),
  action: text("action").notNull(),
  resourceType: text("resource_type"),
  resourceId: text("resource_id"),
  outcome: text("outcome", { enum: ["success", "failure", "denied"] }).notNull(),
  details: jsonb("details").$type<Record<string, unknown>>().notNull(),
  prevHash: text("prev_hash").notNull(),
  hash: text("hash").notNull().unique(),
}, (t) => [
  index("audit_log_tenant_seq_idx").on(t.tenantId, t.seq),
  index("audit_log_action_idx").on(t.action),
  index("audit_log_occurred_at_idx").on(t.occurredAt),
]);
