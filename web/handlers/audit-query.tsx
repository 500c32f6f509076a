/** @jsxImportSource hono/jsx */
import { AuditQueryInput } from "../../api/services/audit-search.ts";
import { type FormResult, parseForm } from "../forms.ts";

/** The filter fields the audit page's form has, in form order, named as the service names them. */
export const AUDIT_FILTER_NAMES = [
  "actor",
  "action",
  "resourceType",
  "resourceId",
  "outcome",
  "from",
  "to",
] as const;

/** One of {@link AUDIT_FILTER_NAMES}. */
export type AuditFilterName = (typeof AUDIT_FILTER_NAMES)[number];

/** The filters as typed into the form (or a shared URL): blank fields left out, times as given. */
export type AuditFilterForm = Partial<Record<AuditFilterName, string>>;

// What a `datetime-local` input submits: no offset, seconds optional.
const LOCAL_DATETIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,3})?)?$/;

/**
 * The page labels its time inputs "UTC" and means it: a `datetime-local` value has no offset, and
 * reading it in the browser's zone would need a script. Anything else (a full ISO timestamp in a
 * hand-edited URL, or garbage) passes through for the service to accept or explain.
 */
export function utcIsoOf(value: string): string {
  if (!LOCAL_DATETIME.test(value)) return value;
  return value.length === 16 ? `${value}:00Z` : `${value}Z`;
}

/** The filters and cursor in a query string; empty fields count as not given. */
export function readAuditQuery(query: Record<string, string>): {
  form: AuditFilterForm;
  cursor?: string;
} {
  const form: AuditFilterForm = {};
  for (const name of AUDIT_FILTER_NAMES) {
    const value = query[name]?.trim();
    if (value) form[name] = value;
  }
  const cursor = query.cursor?.trim();
  return { form, cursor: cursor || undefined };
}

/** The filters in the service's terms (times as UTC ISO timestamps), not yet validated. */
export function serviceFilters(form: AuditFilterForm): Record<string, string> {
  const values: Record<string, string> = { ...form };
  if (form.from !== undefined) values.from = utcIsoOf(form.from);
  if (form.to !== undefined) values.to = utcIsoOf(form.to);
  return values;
}

/** Validates the filters (and cursor) with the same schema `GET /api/v1/audit` uses. */
export function parseAuditQuery(
  form: AuditFilterForm,
  cursor: string | undefined,
): FormResult<AuditQueryInput> {
  const values = serviceFilters(form);
  if (cursor !== undefined) values.cursor = cursor;
  return parseForm(AuditQueryInput, values, [...AUDIT_FILTER_NAMES, "cursor"]);
}

/** `?a=b&…` for a link, or "" when there is nothing to carry. */
export function searchOf(values: Record<string, string | undefined>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined) params.set(name, value);
  }
  const search = params.toString();
  return search ? `?${search}` : "";
}
