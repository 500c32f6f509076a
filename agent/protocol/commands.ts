// Commands: the signed envelope, the kinds the API may issue with their payloads and results, and
// the reasons an agent refuses one.
import { z } from "zod";
import { HostFacts, ToolInventory } from "./host-report.ts";

const id = z.string().min(1).max(64);

/** A command kind: dotted lowercase words, e.g. `host.diagnose`. */
export const CommandKind = z.string().regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/).max(64);

/**
 * The signed part of a command. The API signs its exact JSON text (`commandMessage`), so both
 * sides check the same bytes and no canonical form is needed.
 */
export const CommandEnvelope = z.object({
  id,
  hostId: id,
  /** Commands for one site run one at a time in order; null means the host itself. */
  siteId: id.nullable(),
  kind: CommandKind,
  payload: z.record(z.string(), z.unknown()),
  issuedAt: z.iso.datetime(),
  notBefore: z.iso.datetime(),
  expiresAt: z.iso.datetime(),
}).strict();
export type CommandEnvelope = z.infer<typeof CommandEnvelope>;

/** `host.diagnose`: refresh the host's facts and tool inventory. */
export const DiagnosePayload = z.object({}).strict();
export const DiagnoseResult = z.object({ facts: HostFacts, inventory: ToolInventory }).strict();
export type DiagnoseResult = z.infer<typeof DiagnoseResult>;

/** `site.restart`: start a fresh worker beside the old one, switch Caddy to it, stop the old. */
export const SiteRestartPayload = z.object({}).strict();

/**
 * `site.remove`: the site left the desired state (its worker and Caddy block go with it); its files
 * move to the host's trash, kept 7 days, or are deleted at once with `purge`.
 */
export const SiteRemovePayload = z.object({ purge: z.boolean() }).strict();

/** How the API treats one kind: its payload schema, and whether a newer one replaces a queued one. */
export interface CommandSpec {
  payload: z.ZodType<Record<string, unknown>>;
  /** A newer command of this kind for the same host and site supersedes one still queued. */
  supersedes: boolean;
  /** How long a command of this kind stays deliverable. */
  ttlMs: number;
}

/** The kinds the API issues. Tests may add kinds of their own on both sides. */
export const COMMAND_SPECS: Record<string, CommandSpec> = {
  "host.diagnose": { payload: DiagnosePayload, supersedes: true, ttlMs: 10 * 60_000 },
  "site.restart": { payload: SiteRestartPayload, supersedes: true, ttlMs: 10 * 60_000 },
  // A host offline for weeks still tidies up after a deleted site when it returns.
  "site.remove": { payload: SiteRemovePayload, supersedes: false, ttlMs: 30 * 24 * 3_600_000 },
};

/** Why an agent refused a command without running it. */
export const REJECT_REASONS = [
  "bad_signature",
  "malformed",
  "wrong_host",
  "expired",
  "not_yet_valid",
] as const;
export const RejectReason = z.enum(REJECT_REASONS);
export type RejectReason = z.infer<typeof RejectReason>;

/** Terminal outcomes an agent reports for a command it accepted. */
export const CommandOutcome = z.enum(["succeeded", "failed"]);
export type CommandOutcome = z.infer<typeof CommandOutcome>;

/** Every state a command row goes through; the last five are terminal. */
export const COMMAND_STATES = [
  "queued",
  "sent",
  "running",
  "succeeded",
  "failed",
  "expired",
  "superseded",
  "cancelled",
] as const;
export type CommandState = (typeof COMMAND_STATES)[number];
export const TERMINAL_COMMAND_STATES: readonly CommandState[] = [
  "succeeded",
  "failed",
  "expired",
  "superseded",
  "cancelled",
];
