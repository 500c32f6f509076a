import { asc, gt } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { auditAnchors, auditLog } from "../../db/schema.ts";
import { auditRowHash, GENESIS_HASH } from "./audit.ts";

/** The chain's state: intact, or where it first breaks and why. */
export interface AuditVerification {
  ok: boolean;
  rowsChecked: number;
  /** The newest row; record it elsewhere to detect a truncated tail later. */
  head: { seq: number; hash: string } | null;
  firstBroken?: { seq: number; reason: string };
  /** Where the kept chain starts after a retention prune; absent while nothing was pruned. */
  anchor?: { seq: number; prunedAt: string };
}

const BATCH = 1000;

/**
 * Walks the whole log in `seq` order, in batches so a large log never sits in memory, and
 * reports the first row whose position, link or contents do not match the chain.
 */
export async function verifyAuditChain(db: Db): Promise<AuditVerification> {
  // A prune leaves an anchor: the first kept row's seq and the hash it links back to.
  const anchors = new Map(
    (await db.select().from(auditAnchors)).map((a) => [a.seq, a] as const),
  );
  let anchor: AuditVerification["anchor"];
  let rowsChecked = 0;
  let previous: { seq: number; hash: string } | null = null;
  for (;;) {
    const batch = await db
      .select()
      .from(auditLog)
      .where(previous ? gt(auditLog.seq, previous.seq) : undefined)
      .orderBy(asc(auditLog.seq))
      .limit(BATCH);
    for (const row of batch) {
      const broken = (reason: string): AuditVerification => ({
        ok: false,
        rowsChecked,
        head: previous,
        firstBroken: { seq: row.seq, reason },
        ...(anchor ? { anchor } : {}),
      });
      const start = previous ? undefined : anchors.get(row.seq);
      if (start) anchor = { seq: start.seq, prunedAt: start.prunedAt.toISOString() };
      const expectedSeq: number = previous ? previous.seq + 1 : start ? start.seq : 1;
      if (row.seq !== expectedSeq) {
        return broken(`sequence gap: expected row ${expectedSeq}, found ${row.seq}`);
      }
      const expectedPrev: string = previous?.hash ?? start?.prevHash ?? GENESIS_HASH;
      if (row.prevHash !== expectedPrev) {
        return broken("prev_hash does not match the previous row's hash");
      }
      if (auditRowHash(row) !== row.hash) {
        return broken("hash does not match the row's contents (the row was altered)");
      }
      rowsChecked++;
      previous = { seq: row.seq, hash: row.hash };
    }
    if (batch.length < BATCH) {
      return { ok: true, rowsChecked, head: previous, ...(anchor ? { anchor } : {}) };
    }
  }
}
