import type { Database } from "../db/client.ts";
import { newId } from "../db/ids.ts";
import { createCommandSigner } from "./auth/command-signer.ts";
import { apiTokenValidator } from "./auth/api-token-check.ts";
import { grantsLoader } from "./auth/grants.ts";
import { createAccessTokens } from "./auth/jwt.ts";
import { createSecrets } from "./auth/secrets.ts";
import { sessionValidator } from "./auth/session-check.ts";
import type { Config } from "./config.ts";
import type { AppDeps, RuntimeAdapters } from "./deps.ts";
import { type AgentHubOptions, createAgentHub } from "./hub/agent-hub.ts";
import type { Logger } from "./log.ts";
import { memoryRateLimitStore } from "./rate-limit-store.ts";
import type { Readiness } from "./readiness.ts";
import { postgresRateLimitStore } from "./services/rate-limit-store-pg.ts";
import { CADDIS_VERSION } from "./version.ts";

/** Assembles the app's dependencies once; `npm start` and the test harness share this. */
export async function buildAppDeps(parts: {
  adapters: RuntimeAdapters;
  config: Config;
  log: Logger;
  database: Database;
  readiness: Readiness;
  now?: () => Date;
  /** Agent hub timings; tests shorten them. */
  agentHub?: AgentHubOptions;
}): Promise<AppDeps> {
  const deps: AppDeps = {
    ...parts.adapters,
    config: parts.config,
    log: parts.log,
    database: parts.database,
    readiness: parts.readiness,
    secrets: await createSecrets(parts.config.keyring),
    accessTokens: await createAccessTokens(parts.config.secretKeys),
    validateSession: sessionValidator(parts.database.db),
    validateApiToken: apiTokenValidator(parts.database.db),
    loadGrants: grantsLoader(parts.database.db),
    commandSigner: await createCommandSigner(parts.config.agentSigningSeed),
    replicaId: newId("rep"),
    rateLimitStore: parts.config.rateLimitStore === "postgres"
      ? postgresRateLimitStore(parts.database.db)
      : memoryRateLimitStore(),
    version: CADDIS_VERSION,
    now: parts.now ?? (() => new Date()),
    // The hub reads the deps it belongs to only once sockets arrive.
    agentHub: createAgentHub(() => deps, parts.agentHub),
  };
  return deps;
}
