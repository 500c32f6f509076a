// Site input is checked by allowlist before it is stored: every value here later reaches a
// Caddyfile, a path or a worker's environment on a host, so nothing is repaired or escaped, only
// accepted in one normal form or refused with the field and the reason.
import { domainToASCII } from "node:url";
import { z } from "zod";
import {
  DOMAIN_PATTERN,
  ENV_NAME_PATTERN,
  RELATIVE_PATH_PATTERN,
  SITE_RUNTIMES,
} from "../../agent/protocol/sites.ts";

const MAX_ALIASES = 50;
const MAX_ENV_ENTRIES = 100;
// In UTF-8 bytes, so the protocol's cap of 32,768 characters holds whatever the script.
const MAX_ENV_VALUE_BYTES = 32_768;

const MAX_DOMAIN_LENGTH = 253;
const MAX_LABEL_LENGTH = 63;
// Far above any legal domain even in Unicode; stops huge strings before the IDNA conversion.
const MAX_DOMAIN_INPUT = 1024;

/** A domain in its stored form, or why the text cannot be one. */
export type DomainResult = { ok: true; domain: string } | { ok: false; reason: string };

// Runtimes differ before IDNA: Bun's converter parses a URL host (drops tabs and newlines, decodes
// `%2e`, cuts at `/`, reads `0x7f.1` as an IP), Deno's passes such text through unchanged. So only
// letters, marks, decimal digits, hyphens and dots (with the full stops IDNA reads as a dot) go
// in: other numbers and symbols can expand into dots or punctuation ("⒈" becomes "1.").
const INVISIBLE_OR_SPACE = /[\p{C}\p{Z}]/u;
const IDN_CHARACTERS = /^[\p{L}\p{M}\p{Nd}.\u3002\uff0e\uff61-]+$/u;

/**
 * Turns user text into the stored form of a domain: IDNA-converted to punycode, lowercase, one
 * trailing dot dropped (so `EXAMPLE.com.` and `example.com` are the same name). Refuses
 * whitespace, wildcards, IP addresses, `localhost` and anything `DOMAIN_PATTERN` refuses.
 */
export function normaliseDomain(text: string): DomainResult {
  const refuse = (reason: string): DomainResult => ({ ok: false, reason });
  if (text === "") return refuse("is empty");
  if (text.length > MAX_DOMAIN_INPUT) {
    return refuse(`is longer than ${MAX_DOMAIN_LENGTH} characters`);
  }
  if (INVISIBLE_OR_SPACE.test(text)) {
    return refuse("must not contain whitespace, control or invisible characters");
  }
  if (text.includes("*")) return refuse("wildcards are not allowed; add each name on its own");
  if (!IDN_CHARACTERS.test(text)) {
    return refuse("may contain only letters, digits, hyphens and dots");
  }
  const ascii = domainToASCII(text).toLowerCase();
  if (ascii === "") return refuse("is not a valid internationalised domain name");
  const domain = ascii.endsWith(".") ? ascii.slice(0, -1) : ascii;
  if (domain.length > MAX_DOMAIN_LENGTH) {
    return refuse(`is longer than ${MAX_DOMAIN_LENGTH} characters`);
  }
  const labels = domain.split(".");
  if (labels.includes("")) return refuse("has an empty label (a leading dot or two dots in a row)");
  for (const label of labels) {
    if (label.length > MAX_LABEL_LENGTH) {
      return refuse(`label "${label}" is longer than ${MAX_LABEL_LENGTH} characters`);
    }
    if (label.startsWith("-") || label.endsWith("-")) {
      return refuse(`label "${label}" must not start or end with a hyphen`);
    }
  }
  const topLevel = labels[labels.length - 1] ?? "";
  if (topLevel === "localhost") return refuse("localhost names are reserved for the host itself");
  if (labels.length < 2) return refuse("needs at least two labels, like example.com");
  // Top-level domains start with a letter; a digit there is how IP addresses (127.0.0.1, 0x7f.1)
  // would slip through as LDH labels.
  if (!/^[a-z]/.test(topLevel)) {
    return refuse("must end in a top-level domain that starts with a letter (no IP addresses)");
  }
  // The last word belongs to the shared allowlist the agent checks again on the host.
  if (!DOMAIN_PATTERN.test(domain)) return refuse("is not a letters-digits-hyphens domain name");
  return { ok: true, domain };
}

// User text as an error message shows it: cut to 80 characters, with control, invisible and
// non-space whitespace characters (and `"` and `\`) written as `\u{…}`, so a message can neither
// hide what was refused nor break the log line it ends up on.
function escapeInput(text: string): string {
  const chars = [...text];
  const shown = chars.slice(0, 80).join("").replace(
    /[\p{C}\p{Z}"\\]/gu,
    (char) => char === " " ? char : `\\u{${char.codePointAt(0)?.toString(16)}}`,
  );
  return chars.length > 80 ? `${shown}…` : shown;
}

const Domain = z.string().transform((text, ctx) => {
  const result = normaliseDomain(text);
  if (result.ok) return result.domain;
  ctx.addIssue({
    code: "custom",
    message: `"${escapeInput(text)}" is not a valid domain name: ${result.reason}`,
  });
  return z.NEVER;
});

// Two spellings of one name (`WWW.example.com`, `www.example.com.`) count as a repeat.
const Aliases = z.array(Domain)
  .max(MAX_ALIASES, `has more than ${MAX_ALIASES} entries`)
  .superRefine((aliases, ctx) => {
    const first = new Map<string, number>();
    for (const [index, alias] of aliases.entries()) {
      const earlier = first.get(alias);
      if (earlier === undefined) first.set(alias, index);
      else ctx.addIssue({ code: "custom", path: [index], message: `repeats aliases.${earlier}` });
    }
  });

const HostId = z.string().regex(/^host_[a-z0-9]{1,60}$/, "is not a host id");

const Runtime = z.enum(SITE_RUNTIMES, { error: `must be one of ${SITE_RUNTIMES.join(", ")}` });

const RelativePath = z.string()
  .max(1024, "is longer than 1024 characters")
  .regex(
    RELATIVE_PATH_PATTERN,
    "must be a relative path inside the release: letters, digits, . _ - and /, with no .. " +
      "segment and no part starting with -",
  );

/** Where PHP files are served from; "" is the release root itself. */
const Docroot = RelativePath;

/** FrankenPHP worker mode's script; null serves PHP files classically. */
const WorkerScript = RelativePath.min(1, "is empty; use null for no worker script").nullable();

const ENV_NAME_RULE = "use A-Z, 0-9 and _, not starting with a digit, at most 128 characters";

/**
 * The worker's environment. Read from the raw object rather than through `z.record`, which would
 * silently drop a `__proto__` key instead of refusing it. Values are secrets: never quoted back.
 */
const Env = z.custom<Record<string, unknown>>(
  (value) => typeof value === "object" && value !== null && !Array.isArray(value),
  "must be an object of NAME: value pairs",
).transform((raw, ctx) => {
  const entries = Object.entries(raw);
  if (entries.length > MAX_ENV_ENTRIES) {
    ctx.addIssue({ code: "custom", message: `has more than ${MAX_ENV_ENTRIES} variables` });
    return z.NEVER;
  }
  const env: Record<string, string> = {};
  for (const [name, value] of entries) {
    // A refused name is escaped in the path too, since the path is echoed as the field name.
    const problem = (message: string) =>
      ctx.addIssue({ code: "custom", path: [escapeInput(name)], message });
    if (!ENV_NAME_PATTERN.test(name)) {
      problem(`"${escapeInput(name)}" is not a valid variable name: ${ENV_NAME_RULE}`);
    } else if (typeof value !== "string") {
      problem("must be a string");
    } else if (value.includes("\0")) {
      problem("must not contain a NUL character");
    } else if (new TextEncoder().encode(value).length > MAX_ENV_VALUE_BYTES) {
      problem(`is larger than ${MAX_ENV_VALUE_BYTES / 1024} KiB`);
    } else {
      env[name] = value;
    }
  }
  return env;
});

/** `POST /api/v1/sites`: a new site on one of the tenant's hosts. */
export const CreateSiteInput = z.object({
  hostId: HostId,
  domain: Domain,
  aliases: Aliases.default([]),
  /** Left out, the host's default runtime is used. */
  runtime: Runtime.optional(),
  docroot: Docroot.default("public"),
  workerScript: WorkerScript.optional(),
  env: Env.default({}),
}).strict().superRefine(refuseAliasOfPrimary);
export type CreateSiteInput = z.infer<typeof CreateSiteInput>;

/**
 * `PATCH /api/v1/sites/:id`: only the fields given change; `aliases` and `env` replace the whole
 * list. A site stays on its host, so `hostId` is refused rather than ignored.
 */
export const UpdateSiteInput = z.object({
  hostId: z.never({ error: "cannot be changed; a site stays on the host it was created on" })
    .optional(),
  domain: Domain.optional(),
  aliases: Aliases.optional(),
  runtime: Runtime.optional(),
  docroot: Docroot.optional(),
  workerScript: WorkerScript.optional(),
  env: Env.optional(),
  enabled: z.boolean().optional(),
}).strict()
  .refine((input) => Object.values(input).some((value) => value !== undefined), {
    message: "must change at least one field",
  })
  .superRefine(refuseAliasOfPrimary);
export type UpdateSiteInput = z.infer<typeof UpdateSiteInput>;

// Runs only once every field is valid, so both values are already in their stored form. On an
// update without `domain` the service compares against the stored primary instead.
function refuseAliasOfPrimary(
  input: { domain?: string | undefined; aliases?: string[] | undefined },
  ctx: z.RefinementCtx,
): void {
  const index = input.aliases?.indexOf(input.domain ?? "") ?? -1;
  if (index >= 0) {
    ctx.addIssue({ code: "custom", path: ["aliases", index], message: "repeats the domain" });
  }
}

/** The `:id` of `/api/v1/sites/:id`. */
export const SiteIdParam = z.object({ id: z.string().min(1).max(64) }).strict();
export type SiteIdParam = z.infer<typeof SiteIdParam>;

/** `DELETE /api/v1/sites/:id?purge=true` deletes the files at once instead of keeping them 7 days. */
export const DeleteSiteQuery = z.object({
  purge: z.enum(["true", "false"], { error: 'must be "true" or "false"' }).default("false")
    .transform((value) => value === "true"),
}).strict();
export type DeleteSiteQuery = z.infer<typeof DeleteSiteQuery>;
