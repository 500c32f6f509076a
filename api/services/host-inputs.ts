import { z } from "zod";

/** A host name: one DNS label, so it fits in hostnames, file names and log lines unquoted. */
export const HOST_NAME_PATTERN = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

/** Trimmed and lowercased first, so "Web-1 " and "web-1" are the same name. */
export const HostName = z.string()
  .trim()
  .toLowerCase()
  .min(1, "is required")
  .max(63, "must be at most 63 characters")
  .regex(
    HOST_NAME_PATTERN,
    "may hold only letters, digits and hyphens, and must not start or end with a hyphen",
  );

/** `POST /api/v1/hosts` and the add-host form. */
export const CreateHostInput = z.object({ name: HostName }).strict();
export type CreateHostInput = z.infer<typeof CreateHostInput>;

const id = z.string().min(1).max(64);

/** The `:id` of `/api/v1/hosts/:id`. */
export const HostIdParam = z.object({ id }).strict();
export type HostIdParam = z.infer<typeof HostIdParam>;

/** `/api/v1/hosts/:id/commands/:commandId`. */
export const HostCommandParam = z.object({ id, commandId: id }).strict();
export type HostCommandParam = z.infer<typeof HostCommandParam>;

/** The most commands one page of history holds. */
export const MAX_COMMANDS_PAGE = 200;

/** `?limit=&before=`: a page of command history, newest first, older than the `before` seq. */
export const HostCommandsQuery = z.object({
  limit: z.coerce.number().int("must be a whole number").min(1, "must be at least 1")
    .max(MAX_COMMANDS_PAGE, `must be at most ${MAX_COMMANDS_PAGE}`).default(50),
  before: z.coerce.number().int("must be a whole number").positive("must be positive").optional(),
}).strict();
export type HostCommandsQuery = z.infer<typeof HostCommandsQuery>;

/** `?hours=1..24`: how far back a metrics series reaches (the API keeps 24 hours). */
export const HostMetricsQuery = z.object({
  hours: z.coerce.number().int("must be a whole number").min(1, "must be at least 1")
    .max(24, "must be at most 24").default(24),
}).strict();
export type HostMetricsQuery = z.infer<typeof HostMetricsQuery>;
