// What an agent tells the API about its host: facts (stable), tool inventory, and usage samples.
import { z } from "zod";

const bytes = z.number().int().nonnegative();

/** How the agent runs: `system` changes the host; `sandbox` changes nothing outside its data dir. */
export const AgentMode = z.enum(["system", "sandbox"]);
export type AgentMode = z.infer<typeof AgentMode>;

/** Facts about the machine, sent in `hello` and refreshed by `host.diagnose`. */
export const HostFacts = z.object({
  hostname: z.string().max(255),
  os: z.string().max(255),
  kernel: z.string().max(255),
  arch: z.string().max(64),
  cpuModel: z.string().max(255),
  cpuCount: z.number().int().positive().max(4096),
  memoryBytes: bytes,
  disk: z.object({ path: z.string().max(4096), totalBytes: bytes, freeBytes: bytes }).strict(),
}).strict();
export type HostFacts = z.infer<typeof HostFacts>;

/** The tools Caddis drives on a host; the inventory says which are present, and their versions. */
export const TOOL_NAMES = [
  "caddy",
  "nft",
  "php",
  "frankenphp",
  "git",
  "pg_dump",
  "mysqldump",
  "restic",
] as const;
export const ToolName = z.enum(TOOL_NAMES);
export type ToolName = z.infer<typeof ToolName>;

/** One tool: present or not, with its path and the first line its version command printed. */
export const ToolReport = z.object({
  present: z.boolean(),
  path: z.string().max(4096).nullable(),
  version: z.string().max(255).nullable(),
}).strict();
export type ToolReport = z.infer<typeof ToolReport>;

export const ToolInventory = z.record(ToolName, ToolReport);
export type ToolInventory = z.infer<typeof ToolInventory>;

/** One usage sample, taken every TIMING.metricsMs. */
export const MetricsSample = z.object({
  at: z.iso.datetime(),
  cpuPercent: z.number().min(0).max(100),
  load1: z.number().nonnegative(),
  load5: z.number().nonnegative(),
  load15: z.number().nonnegative(),
  memoryUsedBytes: bytes,
  memoryTotalBytes: bytes,
  diskUsedBytes: bytes,
  diskTotalBytes: bytes,
}).strict();
export type MetricsSample = z.infer<typeof MetricsSample>;
