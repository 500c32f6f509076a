import { zValidator } from "@hono/zod-validator";
import type { ValidationTargets } from "hono";
import type { ZodType } from "zod";
import { AppError } from "./errors.ts";

/**
 * Validates one request part with its schema; failures become `invalid_input` naming each
 * field and the rule it broke (never echoing the rejected value, which may be a secret).
 */
export function validate<T extends ZodType, Target extends keyof ValidationTargets>(
  target: Target,
  schema: T,
) {
  return zValidator(target, schema, (result) => {
    if (result.success) return;
    const fields: Record<string, string> = {};
    for (const issue of result.error.issues) {
      const name = issue.path.length > 0 ? issue.path.join(".") : "(body)";
      fields[name] ??= issue.message;
    }
    const list = Object.entries(fields).map(([name, message]) => `${name}: ${message}`);
    throw new AppError("invalid_input", `Invalid ${target}: ${list.join("; ")}`, fields);
  });
}
