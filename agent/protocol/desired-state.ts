// The full state the API wants on a host, and what the agent reports back after reconciling.
// Sections for sites, firewall and backups join as their features land; each is applied
// idempotently by its own applier on the agent.
import { z } from "zod";
import { HostFacts, ToolInventory } from "./host-report.ts";

/** Everything a host should run, sent whole with a revision that only ever grows. */
export const DesiredState = z.object({
  hostId: z.string().min(1).max(64),
  revision: z.number().int().nonnegative(),
  /** Sites on this host; their shape arrives with the sites feature. */
  sites: z.array(z.object({ id: z.string().min(1).max(64) }).loose()).max(100_000),
}).strict();
export type DesiredState = z.infer<typeof DesiredState>;

/** How one section (sites, firewall, …) converged: what still differs, and why it failed. */
export const SectionReport = z.object({
  ok: z.boolean(),
  /** Human-readable differences between desired and actual that remain; empty when converged. */
  drift: z.array(z.string().max(1000)).max(1000),
  error: z.string().max(4000).nullable(),
}).strict();
export type SectionReport = z.infer<typeof SectionReport>;

/** What the agent found after applying a revision. */
export const ObservedState = z.object({
  /** The desired revision this report answers. */
  revision: z.number().int().nonnegative(),
  observedAt: z.iso.datetime(),
  facts: HostFacts,
  inventory: ToolInventory,
  sections: z.record(z.string().regex(/^[a-z][a-z_]{0,31}$/), SectionReport),
}).strict();
export type ObservedState = z.infer<typeof ObservedState>;
