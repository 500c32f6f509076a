// The full state the API wants on a host, and what the agent reports back after reconciling.
// Sections for sites, firewall and backups join as their features land; each is applied
// idempotently by its own applier on the agent.
import { z } from "zod";
import { HostFacts, ToolInventory } from "./host-report.ts";
import { DesiredSite, DOMAIN_PATTERN, ObservedSite } from "./sites.ts";

/** Everything a host should run, sent whole with a revision that only ever grows. */
export const DesiredState = z.object({
  hostId: z.string().min(1).max(64),
  revision: z.number().int().nonnegative(),
  /** Every site on this host, disabled ones included (they keep their files and ports). */
  sites: z.array(DesiredSite).max(10_000),
  /**
   * The panel itself, on the host the API runs on: its domain (from CADDIS_PUBLIC_URL) and the
   * API's port on 127.0.0.1, for Caddy to proxy. Absent elsewhere.
   */
  panel: z.object({
    domain: z.string().regex(DOMAIN_PATTERN),
    apiPort: z.number().int().min(1).max(65_535),
  }).strict().optional(),
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
  /** Each desired site's state; absent from agents that run no sites. */
  sites: z.array(ObservedSite).max(10_000).optional(),
}).strict();
export type ObservedState = z.infer<typeof ObservedState>;
