import type { Context } from "hono";
import type { ZodType } from "zod";
import { AppError } from "../api/errors.ts";

/** Field name → what is wrong with it, phrased to follow the field's label ("is required"). */
export type FieldErrors = Record<string, string>;

/** A parsed form: the schema's output, or the problems to show beside each field. */
export type FormResult<T> = { ok: true; data: T } | { ok: false; fields: FieldErrors };

/** The text fields of a urlencoded or multipart body; file parts are ignored. */
export async function readForm(c: Context): Promise<Record<string, string>> {
  const body = await c.req.parseBody();
  const form: Record<string, string> = {};
  for (const [name, value] of Object.entries(body)) {
    if (typeof value === "string") form[name] = value;
  }
  return form;
}

/**
 * Validates the named fields of a form with the schema the JSON API uses for the same input.
 * Only `names` are passed on, because the schemas are strict and forms carry extras (`next`).
 */
export function parseForm<T>(
  schema: ZodType<T>,
  form: Record<string, string>,
  names: readonly string[],
): FormResult<T> {
  const values: Record<string, string> = {};
  for (const name of names) {
    const value = form[name];
    if (value !== undefined) values[name] = value;
  }
  const result = schema.safeParse(values);
  if (result.success) return { ok: true, data: result.data };
  const fields: FieldErrors = {};
  for (const issue of result.error.issues) {
    const name = issue.path.length > 0 ? issue.path.join(".") : "form";
    // A field missing from the body breaks the type rule; to a person it is simply empty.
    const missing = issue.code === "invalid_type" && values[name] === undefined;
    fields[name] ??= missing ? "is required" : issue.message;
  }
  return { ok: false, fields };
}

/**
 * The field problems an `invalid_input` AppError carries, with service field names mapped to the
 * form's (`password` → `newPassword`, say); undefined for any other error, which the caller
 * rethrows or shows as a page-level message.
 */
export function fieldErrorsOf(
  err: unknown,
  rename: Record<string, string> = {},
): FieldErrors | undefined {
  if (!(err instanceof AppError) || err.code !== "invalid_input") return undefined;
  const fields: FieldErrors = {};
  for (const [name, message] of Object.entries(err.fields ?? { form: err.message })) {
    fields[rename[name] ?? name] = message;
  }
  return fields;
}

/** "Retry in 15 minutes" rather than "in 900 s": the wait a throttled sign-in is told. */
export function describeWait(seconds: number): string {
  const whole = Math.max(1, Math.ceil(seconds));
  if (whole < 90) return `${whole} second${whole === 1 ? "" : "s"}`;
  const minutes = Math.ceil(whole / 60);
  return `${minutes} minute${minutes === 1 ? "" : "s"}`;
}
