import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Hono } from "hono";
import { openDatabase } from "../db/client.ts";
import { createApp } from "./app.ts";
import { buildAppDeps } from "./build-deps.ts";
import { type Config, ConfigError, readConfig } from "./config.ts";
import type { AppDeps, AppEnv, RuntimeAdapters } from "./deps.ts";
import { ensureDevSecrets } from "./dev-secrets.ts";
import { createLogger, type Logger } from "./log.ts";
import { startReadiness } from "./readiness.ts";
import { startHostMonitor } from "./services/host-monitor.ts";
import { startMaintenance } from "./services/maintenance.ts";
import { prepareSetup } from "./services/setup.ts";

/** A configured, running Caddis instance, ready to be handed to the runtime's server. */
export interface Started {
  app: Hono<AppEnv>;
  deps: AppDeps;
  config: Config;
  log: Logger;
  shutdown(): Promise<void>;
}

/**
 * Boots Caddis from the environment: secrets, config, logger, database (migrating in the
 * background until reachable) and the app. Shared by the Bun and Deno entry files.
 * Throws ConfigError listing every configuration problem.
 */
export async function startCaddis(
  env: Record<string, string | undefined>,
  adapters: RuntimeAdapters,
): Promise<Started> {
  let effectiveEnv = env;
  let generated: string[] = [];
  let secretsFile = "";
  if (env.CADDIS_ENV !== "production") {
    const dev = await ensureDevSecrets(env);
    ({ env: effectiveEnv, generated, file: secretsFile } = dev);
  }
  const config = readConfig(effectiveEnv);
  const log = createLogger({ level: config.logLevel });
  if (generated.length > 0) {
    log.warn(
      { file: secretsFile, generated },
      "Development secrets were generated; set them in the environment for production",
    );
  }

  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const database = config.databaseUrl
    ? await openDatabase({ url: config.databaseUrl, poolSize: config.databasePoolSize })
    : await openDatabase({ dataDir: resolve(join(config.dataDir, "pglite")) });
  // First-run setup needs the deps, and the migration it waits for may finish first.
  let depsBuilt: (deps: AppDeps) => void = () => {};
  const depsReady = new Promise<AppDeps>((resolve) => (depsBuilt = resolve));
  let stopMaintenance = () => {};
  let stopHostMonitor = () => {};
  const readiness = startReadiness(database, log, async () => {
    const ready = await depsReady;
    stopMaintenance = startMaintenance(ready);
    // Agents may connect from now on: listen for host events from every replica.
    await ready.agentHub.start();
    stopHostMonitor = startHostMonitor(ready);
    await announceSetup(ready);
  });
  const deps = await buildAppDeps({ adapters, config, log, database, readiness });
  depsBuilt(deps);
  await readiness.firstAttempt;
  return {
    app: createApp(deps),
    deps,
    config,
    log,
    async shutdown() {
      readiness.stop();
      stopMaintenance();
      stopHostMonitor();
      await deps.agentHub.stop();
      await database.close();
      log.flush();
    },
  };
}

/** Prints a start failure in one clear message; config problems list every one of them. */
export function describeStartFailure(err: unknown): string {
  if (err instanceof ConfigError) return err.message;
  return `Caddis could not start: ${(err as Error)?.message ?? String(err)}`;
}

/**
 * When no account exists, prints the one-time setup link. The one place a secret is printed: the
 * operator needs it to create the first account. It goes to the terminal, not the JSON log, is
 * single-use and dies in an hour.
 */
async function announceSetup(deps: AppDeps): Promise<void> {
  const url = await prepareSetup(deps);
  if (!url) return;
  console.log(`\nNo account exists yet. Create the first superuser within an hour at:\n  ${url}\n`);
  deps.log.warn("First-run setup is open: use the one-time link printed on the terminal");
}
