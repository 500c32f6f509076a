// Every column that holds values from the secrets service, so key rotation (and anything else
// that must visit all ciphertexts) finds them in one place. A new encrypted column is one entry.
import { getTableName } from "drizzle-orm";
import type { AnyPgColumn, PgTable } from "drizzle-orm/pg-core";
import { sites, users } from "../../db/schema.ts";
import type { SecretLocation } from "../auth/secrets.ts";

/** One encrypted column: its table, the primary key bound into the AAD, and the value column. */
export interface EncryptedColumn {
  readonly table: PgTable;
  /** Single-column primary key; its value is the `row` of the SecretLocation. */
  readonly id: AnyPgColumn;
  /** Nullable text column holding `v<version>:…` values. */
  readonly value: AnyPgColumn;
}

/** All encrypted columns. Their locations must match what the writers pass to `encrypt`. */
export const ENCRYPTED_COLUMNS: readonly EncryptedColumn[] = [
  // Written by encryptTotpSecret, whose totpSecretLocation names the same table and column.
  { table: users, id: users.id, value: users.totpSecret },
  // Written by sealSiteEnv, whose siteEnvLocation names the same table and column.
  { table: sites, id: sites.id, value: sites.envSecret },
];

/** `table.column`, for messages and progress lines. */
export function columnLabel(entry: EncryptedColumn): string {
  return `${getTableName(entry.table)}.${entry.value.name}`;
}

/** The AAD location of one cell, built from SQL names so it matches the writers' locations. */
export function cellLocation(entry: EncryptedColumn, rowId: string): SecretLocation {
  return { table: getTableName(entry.table), column: entry.value.name, row: rowId };
}
