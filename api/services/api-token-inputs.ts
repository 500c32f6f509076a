import { z } from "zod";
import { formatRange, MAX_ALLOWLIST_ENTRIES, parseAllowlistEntry } from "../auth/ip-allowlist.ts";
import { ALL_PERMISSIONS, isPermission, type Permission } from "../auth/permissions.ts";

/** How long a token may live, in days: long-lived credentials must still end. */
export const MAX_TOKEN_DAYS = 365;

// Names are echoed back in the error, so they are capped before anything else looks at them.
const permissions = z
  .array(z.string().max(64, "is too long"))
  .min(1, "must name at least one permission")
  .max(ALL_PERMISSIONS.length, `may list at most ${ALL_PERMISSIONS.length} permissions`)
  .superRefine((names, ctx) => {
    for (const [i, name] of names.entries()) {
      if (!isPermission(name)) {
        ctx.addIssue({ code: "custom", path: [i], message: `"${name}" is not a permission` });
      }
    }
  })
  .transform((names) => [...new Set(names)] as Permission[]);

function canonicalEntry(entry: string): string {
  const range = parseAllowlistEntry(entry);
  return typeof range === "string" ? entry : formatRange(range);
}

// Each entry is checked and stored in canonical form ("10.0.0.0/8", "2001:db8::1").
const ipAllowlist = z
  .array(z.string().max(64, "is too long"))
  .max(MAX_ALLOWLIST_ENTRIES, `may list at most ${MAX_ALLOWLIST_ENTRIES} entries`)
  .superRefine((entries, ctx) => {
    for (const [i, entry] of entries.entries()) {
      const range = parseAllowlistEntry(entry);
      if (typeof range === "string") {
        ctx.addIssue({ code: "custom", path: [i], message: `"${entry.trim()}" ${range}` });
      }
    }
  })
  .transform((entries) => [...new Set(entries.map(canonicalEntry))]);

/** `POST /api/v1/tokens` and the token form: a personal API token acting in one tenant. */
export const CreateApiTokenInput = z.object({
  name: z.string().trim().min(1, "is required").max(100, "is too long"),
  permissions,
  tenantId: z.string().min(1).max(64).optional(),
  expiresInDays: z.number({ message: "must be a number of days" })
    .int("must be a whole number of days")
    .min(1, "must be at least 1 day")
    .max(MAX_TOKEN_DAYS, `must be at most ${MAX_TOKEN_DAYS} days`),
  ipAllowlist: ipAllowlist.optional(),
}).strict();
export type CreateApiTokenInput = z.infer<typeof CreateApiTokenInput>;

/** The `:id` of `/api/v1/tokens/:id`: a prefixed id, never longer than a few dozen characters. */
export const ApiTokenIdParam = z.object({ id: z.string().min(1).max(64) }).strict();
export type ApiTokenIdParam = z.infer<typeof ApiTokenIdParam>;
