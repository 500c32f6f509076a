import { and, eq, isNull } from "drizzle-orm";
import { z } from "zod";
import { SectionReport } from "../../agent/protocol/desired-state.ts";
import { type AgentMode, HostFacts, ToolInventory } from "../../agent/protocol/host-report.ts";
import type { Db, Tx } from "../../db/client.ts";
import { hosts } from "../../db/schema.ts";
import { AppError } from "../errors.ts";
import { hostDrift, type HostStatus, hostStatus } from "./host-status.ts";

/** A stored host row. */
export type HostRow = typeof hosts.$inferSelect;

/** A host as the API and the panel show it: never its enrolment token hash nor its key. */
export interface HostView {
  id: string;
  name: string;
  isLocal: boolean;
  createdAt: string;
  enrolled: boolean;
  enrolledAt: string | null;
  status: HostStatus;
  lastSeenAt: string | null;
  agentVersion: string | null;
  protocolVersion: number | null;
  mode: AgentMode | null;
  /** Why the agent is sandboxed; null in system mode or before it said hello. */
  modeReason: string | null;
  facts: HostFacts | null;
  inventory: ToolInventory | null;
  desiredRevision: number;
  observedRevision: number | null;
  /**
   * When the agent reported the observed state shown; later reports that repeat it on the same
   * connection are not stored again (`lastSeenAt` says the agent is still there).
   */
  observedAt: string | null;
  drift: boolean;
  /** Per-section convergence from the last observed report. */
  sections: Record<string, SectionReport>;
}

// The agent's report is stored whole; only its sections matter here.
const ObservedSections = z.object({ sections: z.record(z.string(), SectionReport) }).loose();

// Written by our own hub from parsed frames; a row that no longer parses (an older agent's
// shape) shows as unknown rather than failing the page.
function parsed<T>(schema: z.ZodType<T>, value: unknown): T | null {
  const result = schema.safeParse(value);
  return result.success ? result.data : null;
}

const iso = (at: Date | null) => at?.toISOString() ?? null;

/** The view of a host row at `now` (status depends on how recently the agent was heard). */
export function hostView(row: HostRow, now: Date): HostView {
  const sections = parsed(ObservedSections, row.observed)?.sections ?? {};
  return {
    id: row.id,
    name: row.name,
    isLocal: row.isLocal,
    createdAt: row.createdAt.toISOString(),
    enrolled: row.enrolledAt !== null,
    enrolledAt: iso(row.enrolledAt),
    status: hostStatus(row, now),
    lastSeenAt: iso(row.lastSeenAt),
    agentVersion: row.agentVersion,
    protocolVersion: row.protocolVersion,
    mode: row.mode,
    modeReason: row.modeReason,
    facts: parsed(HostFacts, row.facts),
    inventory: parsed(ToolInventory, row.inventory),
    desiredRevision: row.desiredRevision,
    observedRevision: row.observedRevision,
    observedAt: iso(row.observedAt),
    drift: hostDrift({ ...row, sections }),
    sections,
  };
}

/** One answer for a missing host, another tenant's and a revoked one, so ids cannot be probed. */
export function hostNotFound(): AppError {
  return new AppError("not_found", "Host not found");
}

/**
 * The tenant's live (not revoked) host `hostId`, or 404. `lock` takes a row lock for the rest of
 * the transaction, so a concurrent revocation waits for (or is seen by) the caller.
 */
export async function getLiveHostOrThrow(
  tx: Tx | Db,
  tenantId: string,
  hostId: string,
  lock?: "update" | "share",
): Promise<HostRow> {
  const query = tx.select().from(hosts).where(
    and(eq(hosts.id, hostId), eq(hosts.tenantId, tenantId), isNull(hosts.revokedAt)),
  );
  const [row] = lock ? await query.for(lock) : await query;
  if (!row) throw hostNotFound();
  return row;
}

/**
 * Only the id, tenant and name of the tenant's live host `hostId`, or 404: what a command needs,
 * without the reported facts a whole row carries. Takes a key-share lock: a revocation (which
 * locks the row for update first) waits for the caller's transaction, while the agent's own
 * writes to the row (facts, last seen) do not.
 */
export async function getLiveHostRefOrThrow(
  tx: Tx,
  tenantId: string,
  hostId: string,
): Promise<{ id: string; tenantId: string; name: string }> {
  const [row] = await tx.select({ id: hosts.id, tenantId: hosts.tenantId, name: hosts.name })
    .from(hosts)
    .where(and(eq(hosts.id, hostId), eq(hosts.tenantId, tenantId), isNull(hosts.revokedAt)))
    .for("key share");
  if (!row) throw hostNotFound();
  return row;
}
