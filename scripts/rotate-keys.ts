// `bun scripts/rotate-keys.ts [--dry-run] [--batch-size <n>]`: re-encrypts every encrypted column
// under the newest key of CADDIS_ENCRYPTION_KEYS. Opens the database like verify-audit (stop the
// panel first when it is embedded: PGlite has one owner at a time). Safe to kill and re-run.
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { createSecrets } from "../api/auth/secrets.ts";
import { type Config, ConfigError, readConfig } from "../api/config.ts";
import { ensureDevSecrets } from "../api/dev-secrets.ts";
import { scrubSecrets } from "../api/log.ts";
import {
  type ColumnKeyUsage,
  keyVersionUsage,
  retirableVersions,
  rotateEncryptedColumns,
  type RotationProgress,
  type RotationResult,
} from "../api/services/key-rotation.ts";
import { type Database, displayUrl, openDatabase } from "../db/client.ts";

const USAGE = `Usage: bun scripts/rotate-keys.ts [--dry-run] [--batch-size <n>]

Rotating keys:
  1. Put a new key first in CADDIS_ENCRYPTION_KEYS ("2:<new>,1:<old>") and restart every panel
     instance, so new values are written under it.
  2. Run this script. It re-encrypts in batches (default 500) with compare-and-set writes, so it
     can be stopped and run again at any time; every batch is recorded in the audit log.
  3. Remove an old version once this script says nothing uses it, and restart the panel.
--dry-run decrypts everything and reports what would change, writing nothing.
Exit codes: 0 done, 1 some values could not be decrypted (left untouched), 2 usage, configuration
or database error.`;

/** A usage, configuration or database failure: exit 2 with its message. */
class CliError extends Error {
  constructor(message: string, readonly showUsage = false) {
    super(message);
  }
}

interface Options {
  dryRun: boolean;
  batchSize: number;
}

function parseOptions(argv: string[]): Options | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        "dry-run": { type: "boolean", default: false },
        "batch-size": { type: "string", default: "500" },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (err) {
    throw new CliError((err as Error).message, true);
  }
  if (values.help) return "help";
  const batchSize = Number(values["batch-size"]);
  if (!/^[1-9][0-9]*$/.test(values["batch-size"]) || batchSize > 10_000) {
    throw new CliError("--batch-size must be a whole number from 1 to 10000", true);
  }
  return { dryRun: values["dry-run"], batchSize };
}

/** The configuration the panel itself would start with, development secrets included. */
async function loadConfig(): Promise<Config> {
  let env: Record<string, string | undefined> = process.env;
  if (env.CADDIS_ENV !== "production") env = (await ensureDevSecrets(env)).env;
  try {
    return readConfig(env);
  } catch (err) {
    // ConfigError lists problems by name and rule, never by value.
    if (err instanceof ConfigError) throw new CliError(err.message);
    throw err;
  }
}

async function openConfiguredDatabase(config: Config): Promise<Database> {
  const dataDir = resolve(join(config.dataDir, "pglite"));
  let database: Database | undefined;
  try {
    database = config.databaseUrl
      ? await openDatabase({ url: config.databaseUrl })
      : await openDatabase({ dataDir });
    await database.migrate();
    return database;
  } catch (err) {
    await database?.close().catch(() => {});
    const where = config.databaseUrl ? displayUrl(config.databaseUrl) : dataDir;
    throw new CliError(`Cannot open the database at ${where}: ${messageOf(err)}`);
  }
}

// Driver errors can carry bound parameters (ciphertexts); scrubSecrets drops them.
function messageOf(err: unknown): string {
  const scrubbed = scrubSecrets(err) as { message?: string } | string;
  return typeof scrubbed === "string" ? scrubbed : scrubbed.message ?? String(err);
}

function progressLine(p: RotationProgress, dryRun: boolean): string {
  const verb = dryRun ? "would rotate" : "rotated";
  return `${p.table}.${p.column}: batch ${p.batch}: ${verb} ${p.rotated}/${p.pending}, ` +
    `skipped ${p.skipped}, failed ${p.failed}`;
}

function summaryLines(result: RotationResult): string[] {
  const lines = [result.dryRun ? "Dry run, nothing was written:" : "Rotation finished:"];
  for (const c of result.columns) {
    const from = Object.entries(c.fromVersions).map(([v, n]) => `${v}: ${n}`).join(", ");
    lines.push(
      `  ${c.table}.${c.column}: ${result.dryRun ? "would rotate" : "rotated"} ${c.rotated}` +
        `${from ? ` (from ${from})` : ""}, skipped ${c.skipped}, failed ${c.failed}; ` +
        `${c.remaining} not under v${result.toVersion}`,
    );
    if (c.failed > 0) {
      const more = c.failed > c.failedIds.length
        ? ` and ${c.failed - c.failedIds.length} more`
        : "";
      lines.push(
        `    ${c.failed} value(s) cannot be decrypted with any key in CADDIS_ENCRYPTION_KEYS and ` +
          `were left untouched; rows: ${c.failedIds.join(", ")}${more}`,
      );
    } else if (!result.dryRun && c.remaining > 0) {
      lines.push(
        `    ${c.remaining} value(s) were written under an older key during the run; is every ` +
          "panel instance running with the new keyring? Run this script again.",
      );
    }
  }
  return lines;
}

function usageLines(usage: ColumnKeyUsage[], keyVersions: number[], current: number): string[] {
  const lines = ["Key versions in use:"];
  for (const c of usage) {
    const counts = c.versions.map((v) => `v${v.version}: ${v.count}`);
    if (c.unrecognised > 0) counts.push(`unrecognised: ${c.unrecognised}`);
    lines.push(`  ${c.table}.${c.column}: ${counts.join(", ") || "no values"}`);
  }
  const used = new Map<number, number>();
  for (const v of usage.flatMap((c) => c.versions)) {
    used.set(v.version, (used.get(v.version) ?? 0) + v.count);
  }
  for (const version of retirableVersions(usage, keyVersions, current)) {
    lines.push(
      `Key version ${version} is no longer used; you may remove it from CADDIS_ENCRYPTION_KEYS.`,
    );
  }
  for (const [version, count] of used) {
    if (version === current) continue;
    lines.push(
      keyVersions.includes(version)
        ? `Key version ${version} is still used by ${count} value(s); keep it for now.`
        : `Key version ${version} is used by ${count} value(s) but is not in ` +
          "CADDIS_ENCRYPTION_KEYS: they cannot be decrypted until it is added back.",
    );
  }
  return lines;
}

async function run(options: Options): Promise<number> {
  const config = await loadConfig();
  const secrets = await createSecrets(config.keyring);
  const keyVersions = config.keyring.map((k) => k.version);
  const database = await openConfiguredDatabase(config);
  try {
    console.log(
      `${options.dryRun ? "Checking" : "Rotating"} encrypted columns to key version ` +
        `${secrets.currentVersion} in ${database.location}`,
    );
    const result = await rotateEncryptedColumns(database.db, secrets, {
      batchSize: options.batchSize,
      dryRun: options.dryRun,
      onProgress: (p) => console.log(progressLine(p, options.dryRun)),
    });
    const usage = await keyVersionUsage(database.db);
    for (const line of summaryLines(result)) console.log(line);
    for (const line of usageLines(usage, keyVersions, secrets.currentVersion)) console.log(line);
    return result.columns.some((c) => c.failed > 0) ? 1 : 0;
  } finally {
    await database.close();
  }
}

async function main(argv: string[]): Promise<number> {
  try {
    const options = parseOptions(argv);
    if (options === "help") {
      console.log(USAGE);
      return 0;
    }
    return await run(options);
  } catch (err) {
    const message = err instanceof CliError ? err.message : messageOf(err);
    console.error(`error: ${message}`);
    if (err instanceof CliError && err.showUsage) console.error(`\n${USAGE}`);
    return 2;
  }
}

process.exit(await main(process.argv.slice(2)));
