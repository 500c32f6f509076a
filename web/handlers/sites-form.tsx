/** @jsxImportSource hono/jsx */
import { z } from "zod";
import { SITE_RUNTIMES } from "../../agent/protocol/sites.ts";
import { CreateSiteInput, UpdateSiteInput } from "../../api/services/site-inputs.ts";
import { Field, type FieldProblems, FormField, problemOf } from "../components.tsx";
import type { FieldErrors } from "../forms.ts";

/** The text fields of the create and edit forms, as typed, to fill a form back in. */
export interface SiteFormValues {
  domain: string;
  /** One per line or comma-separated. */
  aliases: string;
  hostId: string;
  /** "" for the host's default. */
  runtime: string;
  docroot: string;
}

/** The names the create form posts; the edit form posts the same without `hostId`. */
export const CREATE_FIELDS = ["domain", "aliases", "hostId", "runtime", "docroot"] as const;
export const EDIT_FIELDS = ["domain", "aliases", "runtime", "docroot"] as const;

/** The values a form posted, with the empty form's defaults for fields it lacked. */
export function siteFormValues(form: Record<string, string>): SiteFormValues {
  return {
    domain: form.domain ?? "",
    aliases: form.aliases ?? "",
    hostId: form.hostId ?? "",
    runtime: form.runtime ?? "",
    docroot: form.docroot ?? "public",
  };
}

// Newlines and commas both separate aliases, so a pasted list works either way.
function splitAliases(text: string): string[] {
  return text.split(/[\n,]/).map((alias) => alias.trim()).filter((alias) => alias !== "");
}

// The form's strings in the shape the JSON input takes; everything else is the schema's to judge.
function inputOf(raw: unknown): unknown {
  const form = raw as Record<string, string | undefined>;
  const { aliases, runtime, ...rest } = form;
  return {
    ...rest,
    ...(aliases === undefined ? {} : { aliases: splitAliases(aliases) }),
    ...(runtime ? { runtime } : {}),
  };
}

/** `CreateSiteInput` read from the new-site form's fields. */
export const CreateSiteForm = z.preprocess(inputOf, CreateSiteInput);

/** `UpdateSiteInput` read from the edit form's fields. */
export const EditSiteForm = z.preprocess(inputOf, UpdateSiteInput);

/**
 * Problems keyed by the form's field: `aliases.2` and `env.FOO` become `aliases` and `env`
 * (their messages quote the entry), the first problem of each field wins.
 */
export function fieldProblems(fields: FieldErrors): FieldErrors {
  const problems: FieldErrors = {};
  for (const [name, problem] of Object.entries(fields)) {
    problems[name.split(".")[0] ?? name] ??= problem;
  }
  return problems;
}

/** An environment read from the env form, or why it cannot be one; never quotes a value. */
export type EnvResult = { ok: true; env: Record<string, string> } | { ok: false; problem: string };

/**
 * Reads `NAME=value` lines: blank lines and `#` comments are skipped, the value is everything
 * after the first `=` taken literally (no quotes, no escapes). Messages name line numbers only,
 * because a line that failed to parse may well be a secret.
 */
export function parseEnvLines(text: string): EnvResult {
  const pairs: [string, string][] = [];
  const seen = new Set<string>();
  for (const [index, raw] of text.split("\n").entries()) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.trim() === "" || line.trimStart().startsWith("#")) continue;
    const equals = line.indexOf("=");
    const name = line.slice(0, Math.max(equals, 0)).trim();
    if (equals < 0 || name === "") {
      return { ok: false, problem: `line ${index + 1} is not of the form NAME=value` };
    }
    if (seen.has(name)) {
      return { ok: false, problem: `line ${index + 1} sets a variable an earlier line set` };
    }
    seen.add(name);
    pairs.push([name, line.slice(equals + 1)]);
  }
  // fromEntries defines own properties, so a `__proto__` line is a name the schema refuses.
  const parsed = UpdateSiteInput.safeParse({ env: Object.fromEntries(pairs) });
  if (parsed.success) return { ok: true, env: parsed.data.env ?? {} };
  return { ok: false, problem: parsed.error.issues[0]?.message ?? "is not valid" };
}

/**
 * The fields the create and edit forms share: domain, aliases, runtime and document root.
 * `hostDefault` offers "Host default" as the runtime, which only a new site can take.
 */
export function SiteFields(props: {
  values: SiteFormValues;
  errors: FieldProblems;
  hostDefault: boolean;
}) {
  const { values, errors } = props;
  return (
    <>
      <FormField
        label="Domain"
        name="domain"
        value={values.domain}
        error={problemOf(errors, "domain", "Domain")}
        hint="The name the site answers to, such as example.com; international names are fine."
        maxlength={253}
        required
      />
      <Field
        name="aliases"
        label="Aliases (optional)"
        hint="More names for the same site, such as www.example.com: one per line or separated by commas."
        error={problemOf(errors, "aliases", "Aliases")}
        control={(attrs) => (
          <textarea {...attrs} name="aliases" rows={3} spellcheck={false}>
            {values.aliases}
          </textarea>
        )}
      />
      <Field
        name="runtime"
        label="Runtime"
        hint="FrankenPHP in production; PHP's built-in server where FrankenPHP is not installed."
        error={problemOf(errors, "runtime", "Runtime")}
        control={(attrs) => (
          <select {...attrs} name="runtime">
            {props.hostDefault && (
              <option value="" selected={values.runtime === ""}>Host default</option>
            )}
            {SITE_RUNTIMES.map((runtime) => (
              <option value={runtime} selected={values.runtime === runtime}>{runtime}</option>
            ))}
          </select>
        )}
      />
      <FormField
        label="Document root"
        name="docroot"
        value={values.docroot}
        error={problemOf(errors, "docroot", "Document root")}
        hint="The folder inside the site's files that is served, such as public; empty for the top."
        maxlength={1024}
      />
    </>
  );
}
