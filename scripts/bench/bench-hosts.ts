// The agent benchmark's hosts: enrolled host rows written straight into the API's database (no
// HTTP enrolment), all with one shared public key, so any number of simulated agents can sign in.
import { generateSigningKeyPair } from "../../agent/protocol/signing.ts";
import type { Database } from "../../db/client.ts";
import { newId } from "../../db/ids.ts";
import { hosts } from "../../db/schema.ts";

const BATCH = 1_000;

/** The key pair every bench host shares; the private half stays in the bench processes. */
export interface BenchKeys {
  /** PKCS#8, base64url. */
  privateKey: string;
  /** Raw, base64url. */
  publicKey: string;
}

/** Generates the shared key pair once per run. */
export function benchKeys(): Promise<BenchKeys> {
  return generateSigningKeyPair();
}

/** Inserts `count` enrolled hosts of `tenantId`, `batch` rows per statement; returns their ids. */
export async function insertBenchHosts(
  database: Database,
  tenantId: string,
  publicKey: string,
  count: number,
): Promise<string[]> {
  const ids = Array.from({ length: count }, () => newId("host"));
  const enrolledAt = new Date();
  for (let from = 0; from < count; from += BATCH) {
    await database.db.insert(hosts).values(
      ids.slice(from, from + BATCH).map((id, i) => ({
        id,
        tenantId,
        name: `bench-${String(from + i + 1).padStart(5, "0")}`,
        publicKey,
        enrolledAt,
      })),
    );
  }
  return ids;
}
