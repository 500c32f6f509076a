import type { Context, MiddlewareHandler } from "hono";
import type { UpgradeWebSocket } from "hono/ws";
import type { Database } from "../db/client.ts";
import type { ApiTokenValidator } from "./auth/api-token-check.ts";
import type { CommandSigner } from "./auth/command-signer.ts";
import type { GrantsLoader } from "./auth/grants.ts";
import type { AccessTokens } from "./auth/jwt.ts";
import type { Permission } from "./auth/permissions.ts";
import type { Access } from "./auth/route-access.ts";
import type { Secrets } from "./auth/secrets.ts";
import type { CheckedSessionUser } from "./auth/session-check.ts";
import type { SessionUser } from "./auth/sessions.ts";
import type { Config } from "./config.ts";
import type { Logger } from "./log.ts";
import type { RateLimitStore } from "./rate-limit-store.ts";
import type { Readiness } from "./readiness.ts";
import type { AgentHub } from "./hub/agent-hub.ts";
import type { PageUser } from "../web/page-user.ts";

/** Options the runtime's static-file middleware (`hono/bun`, `hono/deno`) accepts. */
export interface StaticOptions {
  root: string;
  rewriteRequestPath?: (path: string) => string;
  onFound?: (path: string, c: Context) => void | Promise<void>;
}

/** What only the entry file can provide, because it depends on Bun or Deno. */
export interface RuntimeAdapters {
  runtime: { name: "bun" | "deno"; version: string };
  serveStatic: (options: StaticOptions) => MiddlewareHandler;
  /** Remote address of the TCP peer (the proxy's, when behind Caddy). */
  clientAddress: (c: Context) => string | undefined;
  upgradeWebSocket?: UpgradeWebSocket;
}

/** Everything the app needs, built once at start; tests build their own. */
export interface AppDeps extends RuntimeAdapters {
  config: Config;
  log: Logger;
  database: Database;
  readiness: Readiness;
  secrets: Secrets;
  accessTokens: AccessTokens;
  /** The per-request session check (a prepared statement). */
  validateSession: (
    sessionId: string,
    userId: string,
    now: Date,
  ) => Promise<CheckedSessionUser | undefined>;
  /** The per-request personal API token (`cdt_…`) check, cached per auth epoch. */
  validateApiToken: ApiTokenValidator;
  /** A user's grants in a tenant from their roles, cached per auth epoch. */
  loadGrants: GrantsLoader;
  /** Signs agent commands with the API's Ed25519 key (CADDIS_AGENT_SIGNING_KEY). */
  commandSigner: CommandSigner;
  /** This API process's id among replicas sharing the database; recorded on agent sockets. */
  replicaId: string;
  /** The agent sockets this process holds; the entry point starts and stops it. */
  agentHub: AgentHub;
  /** Request counts for rate limiting: in memory, or in PostgreSQL shared by replicas. */
  rateLimitStore: RateLimitStore;
  version: string;
  /** The clock; tests replace it. */
  now: () => Date;
}

/** The caller's identity once a token or cookie has been verified against a live session. */
export interface RequestAuth extends SessionUser {
  /**
   * How the request authenticated: cookies need an Origin check on unsafe methods; `token` is a
   * personal API token (`cdt_…`), which acts in one tenant with at most its listed permissions.
   */
  via: "bearer" | "cookie" | "token";
  /** Set when `via` is `token`. */
  token?: {
    id: string;
    permissions: ReadonlySet<Permission>;
    /** The owner's superuser status counts only as "all permissions", narrowed by the list. */
    ownerIsSuperuser: boolean;
  };
  /**
   * The auth epoch the session or token check went by; the grants check reuses it, so a request
   * reads the epoch once. Absent (service tests) means read afresh.
   */
  authEpoch?: number;
}

/** Per-request values middleware puts on the context. */
export interface AppVariables {
  requestId: string;
  /** The client's address (the proxy-aware one, see client-ip.ts). */
  clientIp: string | undefined;
  /** Set when the request carries a valid access token. */
  auth: RequestAuth | undefined;
  /** The tenant a signed-in request acts in (see active-tenant.ts); undefined without one. */
  tenantId: string | undefined;
  /** Set by a permission guard (route-access.ts): the caller, tenant and grants it checked. */
  access: Access | undefined;
  /** Set on panel pages for signed-in users (web/page-user.ts): navigation and tenant switcher. */
  pageUser?: PageUser;
}

/** The Hono environment type shared by every route and page. */
export interface AppEnv {
  Variables: AppVariables;
}
