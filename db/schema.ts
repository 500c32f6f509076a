import { sql } from "drizzle-orm";
import { COMMAND_STATES } from "../agent/protocol/commands.ts";
import { type HostWeb, SITE_RUNTIMES, SITE_STATUSES } from "../agent/protocol/sites.ts";
import {
  type AnyPgColumn,
  bigint,
  boolean,
  foreignKey,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  real,
  text,
  timestamp,
  unique,
  uniqueIndex,
} from "drizzle-orm/pg-core";

/**
 * Append-only, hash-chained record of everything that changed and who did it. A trigger (in the
 * migrations) rejects UPDATE, DELETE and TRUNCATE; `seq` is gap-free so a removed row shows.
 */
export const auditLog = pgTable("audit_log", {
  seq: bigint("seq", { mode: "number" }).primaryKey(),
  id: text("id").notNull().unique(),
  occurredAt: timestamp("occurred_at", { withTimezone: true, precision: 3, mode: "date" })
    .notNull(),
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
  // A user's own security events: what they did, and what was done to their account.
  index("audit_log_actor_seq_idx").on(t.actorId, t.seq),
  index("audit_log_resource_seq_idx").on(t.resourceType, t.resourceId, t.seq),
]);

const createdAt = () =>
  timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow();
const at = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

/** Organisations that own hosts, sites and everything under them. */
export const tenants = pgTable("tenants", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  /** When set, members can reach nothing but 2FA enrolment until they enable it. */
  require2fa: boolean("require_2fa").notNull().default(false),
  createdAt: createdAt(),
});

/** People who sign in. `email` is stored normalised (NFKC, trimmed, lowercased). */
export const users = pgTable("users", {
  id: text("id").primaryKey(),
  email: text("email").notNull().unique(),
  passwordHash: text("password_hash").notNull(),
  isSuperuser: boolean("is_superuser").notNull().default(false),
  disabledAt: at("disabled_at"),
  /** TOTP secret, encrypted with the secrets service (AAD: users.totp_secret.<id>). */
  totpSecret: text("totp_secret"),
  totpEnabledAt: at("totp_enabled_at"),
  passwordChangedAt: at("password_changed_at").notNull().defaultNow(),
  createdAt: createdAt(),
});

/** Which tenants a user belongs to; what they may do there comes from `user_roles`. */
export const memberships = pgTable(
  "memberships",
  {
    tenantId: text("tenant_id").notNull().references(() => tenants.id, { onDelete: "cascade" }),
    userId: text("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    createdAt: createdAt(),
  },
  (
    t,
  ) => [
    primaryKey({ columns: [t.tenantId, t.userId] }),
    index("memberships_user_idx").on(t.userId),
  ],
);

/**
 * A signed-in session: one per login, living at most 7 days. Access tokens name it (`sid`), so
 * revoking it stops them at once; its refresh tokens rotate underneath it.
 */
export const sessions = pgTable("sessions", {
  id: text("id").primaryKey(),
  userId: text("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
  deviceId: text("device_id"),
  ip: text("ip"),
  userAgent: text("user_agent"),
  createdAt: createdAt(),
  lastSeenAt: at("last_seen_at").notNull().defaultNow(),
  expiresAt: at("expires_at").notNull(),
  revokedAt: at("revoked_at"),
  revokedReason: text("revoked_reason"),
}, (t) => [index("sessions_user_idx").on(t.userId)]);

/**
 * Refresh tokens in the Lucia model: the client holds `id.secret`, the database only SHA-256 of
 * the secret. A token is used once; presenting a rotated one again revokes its session.
 */
export const refreshTokens = pgTable("refresh_tokens", {
  id: text("id").primaryKey(),
  sessionId: text("session_id").notNull().references(() => sessions.id, { onDelete: "cascade" }),
  secretHash: text("secret_hash").notNull(),
  createdAt: createdAt(),
  rotatedAt: at("rotated_at"),
}, (t) => [index("refresh_tokens_session_idx").on(t.sessionId)]);

/** Browsers a user has signed in from, recognised by a device cookie and user agent. */
export const devices = pgTable("devices", {
  id: text("id").primaryKey(),
  userId: text("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
  tokenHash: text("token_hash").notNull().unique(),
  userAgent: text("user_agent"),
  firstSeenAt: at("first_seen_at").notNull().defaultNow(),
  lastSeenAt: at("last_seen_at").notNull().defaultNow(),
  lastIp: text("last_ip"),
}, (t) => [index("devices_user_idx").on(t.userId)]);

/** TOTP time steps already accepted per user: the primary key makes each step single-use. */
export const totpUsedSteps = pgTable("totp_used_steps", {
  userId: text("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
  step: bigint("step", { mode: "number" }).notNull(),
  usedAt: createdAt(),
}, (t) => [primaryKey({ columns: [t.userId, t.step] })]);

/** Single-use 2FA backup codes, stored as SHA-256 (they are long random strings). */
export const backupCodes = pgTable("backup_codes", {
  id: text("id").primaryKey(),
  userId: text("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
  codeHash: text("code_hash").notNull(),
  createdAt: createdAt(),
  usedAt: at("used_at"),
}, (t) => [index("backup_codes_user_idx").on(t.userId)]);

/**
 * Short-lived single-use tokens: the password step of a 2FA login (`mfa`), first-run setup,
 * password resets. Only the hash is stored.
 */
export const oneTimeTokens = pgTable("one_time_tokens", {
  id: text("id").primaryKey(),
  purpose: text("purpose", { enum: ["mfa", "setup", "password_reset"] }).notNull(),
  userId: text("user_id").references(() => users.id, { onDelete: "cascade" }),
  tokenHash: text("token_hash").notNull().unique(),
  /** Purpose-specific facts (device, IP) that are not secret. */
  data: jsonb("data").$type<Record<string, unknown>>().notNull().default({}),
  failedAttempts: integer("failed_attempts").notNull().default(0),
  createdAt: createdAt(),
  expiresAt: at("expires_at").notNull(),
  usedAt: at("used_at"),
});

/** Failed sign-in counters per account and per IP; in the database so restarts keep them. */
export const loginThrottles = pgTable("login_throttles", {
  key: text("key").primaryKey(),
  failures: integer("failures").notNull().default(0),
  windowStartedAt: at("window_started_at").notNull().defaultNow(),
  blockedUntil: at("blocked_until"),
});

/**
 * One row whose counter triggers bump, in the same transaction, whenever something a session
 * check depends on changes (a revoked session, a user, a membership, a tenant's 2FA rule). The
 * API caches session checks per epoch: reading this row is all a request costs until it moves.
 */
export const authEpoch = pgTable("auth_epoch", {
  id: boolean("id").primaryKey().default(true),
  epoch: bigint("epoch", { mode: "number" }).notNull().default(0),
});

/**
 * Request counts per client and fixed window, shared by API replicas when
 * `CADDIS_RATE_LIMIT_STORE=postgres`. Rows are throwaway: maintenance deletes expired windows.
 */
export const rateLimitCounters = pgTable(
  "rate_limit_counters",
  {
    key: text("key").notNull(),
    windowStart: at("window_start").notNull(),
    count: integer("count").notNull().default(0),
    expiresAt: at("expires_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.key, t.windowStart] }),
    index("rate_limit_counters_expires_at_idx").on(t.expiresAt),
  ],
);

/**
 * Where the audit chain starts after a retention prune: the first kept row and the hash it links
 * back to, so the shortened chain still verifies. Append-only, like the log itself.
 */
export const auditAnchors = pgTable("audit_anchors", {
  seq: bigint("seq", { mode: "number" }).primaryKey(),
  prevHash: text("prev_hash").notNull(),
  prunedRows: bigint("pruned_rows", { mode: "number" }).notNull(),
  prunedAt: timestamp("pruned_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
});

/** The permission catalogue (api/auth/permissions.ts), synced at start so grants can refer to it. */
export const permissions = pgTable("permissions", {
  name: text("name").primaryKey(),
  description: text("description").notNull(),
});

/**
 * Named sets of permissions. Built-in roles have no tenant and are synced from code; custom roles
 * belong to one tenant and may inherit a parent's grants (cycles are refused by the service).
 */
export const roles = pgTable("roles", {
  id: text("id").primaryKey(),
  tenantId: text("tenant_id").references(() => tenants.id, { onDelete: "cascade" }),
  name: text("name").notNull(),
  description: text("description").notNull().default(""),
  // No action (checked at statement end), so deleting a tenant can cascade through its roles.
  parentId: text("parent_id").references((): AnyPgColumn => roles.id),
  builtIn: boolean("built_in").notNull().default(false),
  createdAt: createdAt(),
}, (t) => [unique("roles_tenant_name_unique").on(t.tenantId, t.name).nullsNotDistinct()]);

/** What each role grants directly (inherited grants are resolved through `roles.parent_id`). */
export const rolePermissions = pgTable("role_permissions", {
  roleId: text("role_id").notNull().references(() => roles.id, { onDelete: "cascade" }),
  permission: text("permission").notNull().references(() => permissions.name, {
    onDelete: "cascade",
  }),
}, (t) => [primaryKey({ columns: [t.roleId, t.permission] })]);

/**
 * A role held by a member of a tenant, tenant-wide or (with `site_id`) for one site only. Tied to
 * the membership, so leaving a tenant drops its roles.
 */
export const userRoles = pgTable("user_roles", {
  id: text("id").primaryKey(),
  tenantId: text("tenant_id").notNull(),
  userId: text("user_id").notNull(),
  roleId: text("role_id").notNull().references(() => roles.id),
  siteId: text("site_id").references((): AnyPgColumn => sites.id, { onDelete: "cascade" }),
  createdAt: createdAt(),
}, (t) => [
  foreignKey({
    columns: [t.tenantId, t.userId],
    foreignColumns: [memberships.tenantId, memberships.userId],
  }).onDelete("cascade"),
  unique("user_roles_assignment_unique").on(t.tenantId, t.userId, t.roleId, t.siteId)
    .nullsNotDistinct(),
  index("user_roles_user_tenant_idx").on(t.userId, t.tenantId),
  index("user_roles_role_idx").on(t.roleId),
]);

/**
 * A single-use invitation into a tenant, bound to the invitee's email and valid 72 hours; only
 * the hash of the link's token is stored.
 */
export const invitations = pgTable("invitations", {
  id: text("id").primaryKey(),
  tenantId: text("tenant_id").notNull().references(() => tenants.id, { onDelete: "cascade" }),
  email: text("email").notNull(),
  roleIds: text("role_ids").array().notNull(),
  tokenHash: text("token_hash").notNull().unique(),
  invitedBy: text("invited_by").references(() => users.id, { onDelete: "set null" }),
  createdAt: createdAt(),
  expiresAt: at("expires_at").notNull(),
  acceptedAt: at("accepted_at"),
  acceptedBy: text("accepted_by").references(() => users.id, { onDelete: "set null" }),
  revokedAt: at("revoked_at"),
}, (t) => [index("invitations_tenant_idx").on(t.tenantId)]);

/**
 * Personal API tokens (`cdt_…`): a subset of the owner's permissions in one tenant, an expiry
 * and an optional IP allowlist. Only SHA-256 of the secret is stored. Tied to the membership.
 */
export const apiTokens = pgTable("api_tokens", {
  id: text("id").primaryKey(),
  userId: text("user_id").notNull(),
  tenantId: text("tenant_id").notNull(),
  name: text("name").notNull(),
  secretHash: text("secret_hash").notNull(),
  permissions: text("permissions").array().notNull(),
  /** Addresses or CIDR ranges the token may be used from; empty means anywhere. */
  ipAllowlist: text("ip_allowlist").array().notNull().default([]),
  createdAt: createdAt(),
  expiresAt: at("expires_at").notNull(),
  lastUsedAt: at("last_used_at"),
  lastUsedIp: text("last_used_ip"),
  revokedAt: at("revoked_at"),
}, (t) => [
  foreignKey({
    columns: [t.tenantId, t.userId],
    foreignColumns: [memberships.tenantId, memberships.userId],
  }).onDelete("cascade"),
  index("api_tokens_user_idx").on(t.userId),
  index("api_tokens_tenant_idx").on(t.tenantId),
]);

/**
 * Machines running the Caddis agent. A host is enrolled once with a one-time token (only its hash
 * stored) and from then on proves itself by signing a challenge with the Ed25519 key whose public
 * half is kept here; the API stores no agent secret. Revoked hosts keep their row for history.
 */
export const hosts = pgTable("hosts", {
  id: text("id").primaryKey(),
  tenantId: text("tenant_id").notNull().references(() => tenants.id, { onDelete: "cascade" }),
  name: text("name").notNull(),
  /** The host the embedded agent runs on (at most one). */
  isLocal: boolean("is_local").notNull().default(false),
  createdBy: text("created_by").references(() => users.id, { onDelete: "set null" }),
  createdAt: createdAt(),
  enrolmentTokenHash: text("enrolment_token_hash").unique(),
  enrolmentExpiresAt: at("enrolment_expires_at"),
  /** Raw Ed25519 public key, base64url; null until enrolled. */
  publicKey: text("public_key"),
  enrolledAt: at("enrolled_at"),
  revokedAt: at("revoked_at"),
  agentVersion: text("agent_version"),
  protocolVersion: integer("protocol_version"),
  mode: text("mode", { enum: ["system", "sandbox"] }),
  modeReason: text("mode_reason"),
  facts: jsonb("facts").$type<Record<string, unknown>>(),
  inventory: jsonb("inventory").$type<Record<string, unknown>>(),
  /** How the host serves sites (Caddy's ports, where site files live), from `hello`. */
  web: jsonb("web").$type<HostWeb>(),
  /** Grows with every change to what the host should run; sent with the desired state. */
  desiredRevision: bigint("desired_revision", { mode: "number" }).notNull().default(1),
  observedRevision: bigint("observed_revision", { mode: "number" }),
  observed: jsonb("observed").$type<Record<string, unknown>>(),
  observedAt: at("observed_at"),
  /** The API replica holding the agent's socket, while connected. */
  connectedReplica: text("connected_replica"),
  connectedAt: at("connected_at"),
  lastSeenAt: at("last_seen_at"),
}, (t) => [
  index("hosts_tenant_idx").on(t.tenantId),
  uniqueIndex("hosts_tenant_name_live_unique").on(t.tenantId, t.name).where(
    sql`${t.revokedAt} is null`,
  ),
  uniqueIndex("hosts_single_local").on(t.isLocal).where(
    sql`${t.isLocal} and ${t.revokedAt} is null`,
  ),
]);

/**
 * The durable outbox of work for agents: written in the same transaction as the change that
 * causes it, signed by the API, delivered at least once and run at most once. `seq` orders
 * commands per host and site.
 */
export const agentCommands = pgTable("agent_commands", {
  id: text("id").primaryKey(),
  seq: bigint("seq", { mode: "number" }).generatedAlwaysAsIdentity(),
  hostId: text("host_id").notNull().references(() => hosts.id, { onDelete: "cascade" }),
  tenantId: text("tenant_id").notNull(),
  siteId: text("site_id"),
  kind: text("kind").notNull(),
  payload: jsonb("payload").$type<Record<string, unknown>>().notNull(),
  /** The signed envelope's exact JSON text and its Ed25519 signature. */
  body: text("body").notNull(),
  signature: text("signature").notNull(),
  state: text("state", { enum: COMMAND_STATES }).notNull().default("queued"),
  issuedBy: text("issued_by"),
  createdAt: createdAt(),
  notBefore: at("not_before").notNull(),
  expiresAt: at("expires_at").notNull(),
  sentAt: at("sent_at"),
  startedAt: at("started_at"),
  finishedAt: at("finished_at"),
  deliveries: integer("deliveries").notNull().default(0),
  result: jsonb("result").$type<Record<string, unknown>>(),
  error: text("error"),
}, (t) => [
  index("agent_commands_host_seq_idx").on(t.hostId, t.seq),
  index("agent_commands_open_idx").on(t.hostId, t.seq).where(
    sql`${t.state} in ('queued', 'sent', 'running')`,
  ),
]);

/** Usage samples an agent reports every 30 s; the last 24 hours are kept. */
export const hostMetrics = pgTable("host_metrics", {
  hostId: text("host_id").notNull().references(() => hosts.id, { onDelete: "cascade" }),
  at: at("at").notNull(),
  cpuPercent: real("cpu_percent").notNull(),
  load1: real("load1").notNull(),
  load5: real("load5").notNull(),
  load15: real("load15").notNull(),
  memoryUsedBytes: bigint("memory_used_bytes", { mode: "number" }).notNull(),
  memoryTotalBytes: bigint("memory_total_bytes", { mode: "number" }).notNull(),
  diskUsedBytes: bigint("disk_used_bytes", { mode: "number" }).notNull(),
  diskTotalBytes: bigint("disk_total_bytes", { mode: "number" }).notNull(),
}, (t) => [primaryKey({ columns: [t.hostId, t.at] }), index("host_metrics_at_idx").on(t.at)]);

/** Problems on a host worth a look: offline for over 2 minutes, a disk over 90% full. */
export const hostAlerts = pgTable("host_alerts", {
  id: text("id").primaryKey(),
  hostId: text("host_id").notNull().references(() => hosts.id, { onDelete: "cascade" }),
  tenantId: text("tenant_id").notNull(),
  kind: text("kind", { enum: ["offline", "disk_full", "site_failed"] }).notNull(),
  /** The site a `site_failed` alert is about; null for alerts about the host itself. */
  siteId: text("site_id").references(() => sites.id, { onDelete: "cascade" }),
  message: text("message").notNull(),
  raisedAt: at("raised_at").notNull(),
  resolvedAt: at("resolved_at"),
}, (t) => [
  index("host_alerts_tenant_idx").on(t.tenantId, t.raisedAt),
  uniqueIndex("host_alerts_one_open").on(t.hostId, t.kind, sql`coalesce(${t.siteId}, '')`)
    .where(sql`${t.resolvedAt} is null`),
]);

/**
 * A PHP site on one host: served by Caddy from its own worker on 127.0.0.1. Every value here was
 * checked by allowlist (api/services/site-inputs.ts) and is checked again by the agent.
 */
export const sites = pgTable("sites", {
  id: text("id").primaryKey(),
  tenantId: text("tenant_id").notNull().references(() => tenants.id, { onDelete: "cascade" }),
  hostId: text("host_id").notNull().references(() => hosts.id),
  /** The primary domain, as stored in site_domains too. */
  domain: text("domain").notNull(),
  runtime: text("runtime", { enum: SITE_RUNTIMES }).notNull(),
  docroot: text("docroot").notNull(),
  workerScript: text("worker_script"),
  /** The first of the site's pair of worker ports on the host's 127.0.0.1. */
  port: integer("port").notNull(),
  /** The site's system user on the host. */
  systemUser: text("system_user").notNull(),
  /** Names of the worker's environment variables, for display; values are in envSecret. */
  envNames: jsonb("env_names").$type<string[]>().notNull().default([]),
  /** The whole environment as JSON, encrypted by the secrets service; null when empty. */
  envSecret: text("env_secret"),
  enabled: boolean("enabled").notNull().default(true),
  /** As the host's agent last reported it. */
  status: text("status", { enum: SITE_STATUSES }).notNull().default("pending"),
  lastError: text("last_error"),
  /** The port the serving worker listens on (one of the pair), as last reported. */
  livePort: integer("live_port"),
  statusAt: at("status_at"),
  createdBy: text("created_by").references(() => users.id, { onDelete: "set null" }),
  createdAt: createdAt(),
  updatedAt: at("updated_at").notNull().defaultNow(),
}, (t) => [
  index("sites_tenant_idx").on(t.tenantId),
  uniqueIndex("sites_host_port_unique").on(t.hostId, t.port),
]);

/** Every name a site answers to, unique across all tenants: the primary domain and aliases. */
export const siteDomains = pgTable("site_domains", {
  domain: text("domain").primaryKey(),
  siteId: text("site_id").notNull().references(() => sites.id, { onDelete: "cascade" }),
  isPrimary: boolean("is_primary").notNull(),
  /** Where it is listed among the site's names: 0 for the primary, then the aliases in order. */
  position: integer("position").notNull(),
}, (t) => [index("site_domains_site_idx").on(t.siteId, t.position)]);
