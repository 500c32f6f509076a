// Re-encrypts every registered encrypted column under the newest key, in keyset-paged batches
// written with compare-and-set, so a run can be killed and re-run without losing or double-
// wrapping a value. `scripts/rotate-keys.ts` is its CLI.
import { and, asc, eq, getTableName, gt, isNotNull, type SQL, sql } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { rowsOf } from "../../db/migrate.ts";
import { SecretDecryptError, type Secrets } from "../auth/secrets.ts";
import { type AuditContext, recordAudit, recordAuditNow } from "./audit.ts";
import {
  cellLocation,
  columnLabel,
  ENCRYPTED_COLUMNS,
  type EncryptedColumn,
} from "./encrypted-columns.ts";

/** Who a rotation run is audited as when the caller names nobody: the system, from a shell. */
export const ROTATION_AUDIT: AuditContext = { actor: { kind: "system" }, userAgent: "caddis-cli" };

// Failed ids are listed up to this many in audit rows and results; the count is always exact.
const MAX_LISTED_IDS = 100;

/** What happened to one column; in a dry run, `rotated` is what would have been rotated. */
export interface ColumnRotation {
  table: string;
  column: string;
  /** Values not under the newest key when the column's pass began. */
  pending: number;
  rotated: number;
  /** Changed by someone else between read and write; left as they are now. */
  skipped: number;
  /** Could not be decrypted with any known key; left untouched. */
  failed: number;
  /** Primary keys of failed values (the first MAX_LISTED_IDS), never the values. */
  failedIds: string[];
  /** Rotated values counted by the key version they were under, e.g. `{ v1: 10 }`. */
  fromVersions: Record<string, number>;
  /** Values still not under the newest key after the pass. */
  remaining: number;
}

/** One progress report, sent after each batch with the column's running totals. */
export type RotationProgress = Omit<ColumnRotation, "remaining" | "failedIds"> & { batch: number };

/** The outcome of a run over all registered columns. */
export interface RotationResult {
  toVersion: number;
  dryRun: boolean;
  columns: ColumnRotation[];
}

/** Options for {@link rotateEncryptedColumns}. */
export interface RotationOptions {
  batchSize?: number;
  /** Decrypts to find what would fail, writes nothing and records no audit row. */
  dryRun?: boolean;
  audit?: AuditContext;
  /** Called after each batch is committed; a throw stops the run there, as a kill would. */
  onProgress?: (progress: RotationProgress) => void | Promise<void>;
  /** Runs between reading a batch and writing it; tests use it to race a concurrent writer. */
  beforeWrite?: (ids: string[]) => void | Promise<void>;
  columns?: readonly EncryptedColumn[];
}

/**
 * Moves every value of every registered column to the newest key. Each batch's compare-and-set
 * updates and its audit row commit together; a value changed meanwhile is skipped, one that
 * fails to decrypt is reported and left alone. One summary audit row closes a completed run.
 */
export async function rotateEncryptedColumns(
  db: Db,
  secrets: Secrets,
  options: RotationOptions = {},
): Promise<RotationResult> {
  const { batchSize = 500, dryRun = false, audit = ROTATION_AUDIT } = options;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw new Error("Batch size must be a positive integer");
  }
  const columns: ColumnRotation[] = [];
  for (const entry of options.columns ?? ENCRYPTED_COLUMNS) {
    columns.push(await rotateColumn(db, secrets, entry, { ...options, batchSize, dryRun, audit }));
  }
  const result = { toVersion: secrets.currentVersion, dryRun, columns };
  if (!dryRun) {
    const failed = columns.some((c) => c.failed > 0);
    await recordAuditNow(db, audit, {
      action: "secrets.rotate",
      outcome: failed ? "failure" : "success",
      details: { phase: "run", toVersion: result.toVersion, columns },
    });
  }
  return result;
}

type ColumnOptions = RotationOptions & { batchSize: number; dryRun: boolean; audit: AuditContext };

async function rotateColumn(
  db: Db,
  secrets: Secrets,
  entry: EncryptedColumn,
  options: ColumnOptions,
): Promise<ColumnRotation> {
  const stale = staleCondition(entry, secrets.currentVersion);
  const totals: ColumnRotation = {
    table: getTableName(entry.table),
    column: entry.value.name,
    pending: await countWhere(db, entry, stale),
    rotated: 0,
    skipped: 0,
    failed: 0,
    failedIds: [],
    fromVersions: {},
    remaining: 0,
  };
  // Keyset paging: every row is visited at most once per run, even those left failed or skipped.
  let after: string | undefined;
  for (let batch = 1;; batch++) {
    const rows = await db
      .select({ id: entry.id, value: entry.value })
      .from(entry.table)
      .where(and(stale, after === undefined ? undefined : gt(entry.id, after)))
      .orderBy(asc(entry.id))
      .limit(options.batchSize);
    if (rows.length === 0) break;
    after = String(rows[rows.length - 1]!.id);

    const changes: { id: string; old: string; next: string }[] = [];
    const failedIds: string[] = [];
    for (const row of rows) {
      const id = String(row.id);
      const old = String(row.value);
      try {
        const where = cellLocation(entry, id);
        // A dry run decrypts anyway, so it finds the values a real run would fail on.
        const next = options.dryRun
          ? await secrets.decrypt(old, where).then(() => old)
          : await secrets.reencrypt(old, where);
        changes.push({ id, old, next });
      } catch (err) {
        if (!(err instanceof SecretDecryptError)) throw err;
        failedIds.push(id);
      }
    }
    let written = changes;
    if (!options.dryRun) {
      await options.beforeWrite?.(changes.map((c) => c.id));
      written = await writeBatch(db, entry, changes, {
        audit: options.audit,
        details: { phase: "batch", batch, toVersion: secrets.currentVersion },
      });
    }

    totals.rotated += written.length;
    totals.skipped += changes.length - written.length;
    totals.failed += failedIds.length;
    totals.failedIds.push(...failedIds.slice(0, MAX_LISTED_IDS - totals.failedIds.length));
    for (const { old } of written) {
      const version = versionLabel(old);
      totals.fromVersions[version] = (totals.fromVersions[version] ?? 0) + 1;
    }
    const { table, column, pending, rotated, skipped, failed } = totals;
    const fromVersions = { ...totals.fromVersions };
    await options.onProgress?.({
      table,
      column,
      pending,
      rotated,
      skipped,
      failed,
      fromVersions,
      batch,
    });
  }
  totals.remaining = await countWhere(db, entry, stale);
  return totals;
}

/**
 * Writes each new value only where the cell still holds the value it was made from, and audits
 * the batch in the same transaction; returns the changes that were applied.
 */
async function writeBatch<T extends { id: string; old: string; next: string }>(
  db: Db,
  entry: EncryptedColumn,
  changes: T[],
  audit: { audit: AuditContext; details: Record<string, unknown> },
): Promise<T[]> {
  if (changes.length === 0) return [];
  return await db.transaction(async (tx) => {
    const applied: T[] = [];
    for (const change of changes) {
      const updated = await tx.execute(sql`
        update ${entry.table} set ${sql.identifier(entry.value.name)} = ${change.next}
        where ${eq(entry.id, change.id)} and ${eq(entry.value, change.old)}
        returning 1 as ok`);
      if (rowsOf(updated).length > 0) applied.push(change);
    }
    if (applied.length > 0) {
      await recordAudit(tx, audit.audit, {
        action: "secrets.rotate",
        resourceType: "encrypted_column",
        resourceId: columnLabel(entry),
        outcome: "success",
        details: {
          ...audit.details,
          rotated: applied.length,
          skipped: changes.length - applied.length,
        },
      });
    }
    return applied;
  });
}

/** How many values of one column are under each key version. */
export interface ColumnKeyUsage {
  table: string;
  column: string;
  /** Counts by version, ascending. */
  versions: { version: number; count: number }[];
  /** Values without a `v<version>:` prefix: not written by the secrets service. */
  unrecognised: number;
}

/** Counts stored values per key version in every registered column. */
export async function keyVersionUsage(
  db: Db,
  columns: readonly EncryptedColumn[] = ENCRYPTED_COLUMNS,
): Promise<ColumnKeyUsage[]> {
  const usage: ColumnKeyUsage[] = [];
  for (const entry of columns) {
    // Only the digits are read back: a malformed value is never echoed, even in part.
    const version = sql<string | null>`substring(${entry.value} from '^v([1-9][0-9]{0,8}):')`;
    const rows = await db
      .select({ version, count: sql<number>`count(*)::int` })
      .from(entry.table)
      .where(isNotNull(entry.value))
      .groupBy(version);
    const versions = rows.filter((r) => r.version !== null)
      .map((r) => ({ version: Number(r.version), count: Number(r.count) }))
      .sort((a, b) => a.version - b.version);
    const unrecognised = rows.filter((r) => r.version === null)
      .reduce((sum, r) => sum + Number(r.count), 0);
    usage.push({
      table: getTableName(entry.table),
      column: entry.value.name,
      versions,
      unrecognised,
    });
  }
  return usage;
}

/** Keyring versions, other than the newest, that no stored value uses any more. */
export function retirableVersions(
  usage: readonly ColumnKeyUsage[],
  keyringVersions: readonly number[],
  currentVersion: number,
): number[] {
  const used = new Set(usage.flatMap((c) =>
    c.versions.filter((v) => v.count > 0)
      .map((v) => v.version)
  ));
  return keyringVersions.filter((v) => v !== currentVersion && !used.has(v));
}

// Not under the newest key; malformed values match too, so they surface as failures.
function staleCondition(entry: EncryptedColumn, currentVersion: number): SQL | undefined {
  return and(
    isNotNull(entry.value),
    sql`not starts_with(${entry.value}, ${`v${currentVersion}:`})`,
  );
}

async function countWhere(db: Db, entry: EncryptedColumn, where: SQL | undefined) {
  const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(entry.table).where(where);
  return Number(row?.n ?? 0);
}

function versionLabel(value: string): string {
  const match = /^v([1-9][0-9]*):/.exec(value);
  return match ? `v${match[1]}` : "unrecognised";
}
