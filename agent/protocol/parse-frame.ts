// The one way either side reads a frame: size limit, JSON, no prototype-pollution keys, schema.
import type { z } from "zod";
import type { ProtocolErrorCode } from "./frames.ts";
import { MAX_FRAME_BYTES } from "./version.ts";

/** A frame that could not be accepted; `tooLarge` means the socket must close with 1009. */
export interface FrameProblem {
  ok: false;
  code: ProtocolErrorCode;
  message: string;
  tooLarge: boolean;
}

export type ParsedFrame<T> = { ok: true; frame: T } | FrameProblem;

const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);
const QUOTED_FORBIDDEN_KEYS = [...FORBIDDEN_KEYS].map((key) => `"${key}"`);

// A JSON key reads as one of the forbidden names only when written out quoted, or with \u
// escapes (no other escape yields a letter or an underscore). Text with neither needs no
// reviver, which costs ten times the parse itself on a frame the size of a diagnose result.
function mayHoldForbiddenKey(text: string): boolean {
  return text.includes("\\u") || QUOTED_FORBIDDEN_KEYS.some((key) => text.includes(key));
}

/**
 * Parses one text frame against a schema. Never throws: malformed JSON, unknown types, oversized
 * frames and objects carrying `__proto__`/`constructor`/`prototype` keys come back as problems.
 */
export function parseFrame<T>(
  raw: string | ArrayBuffer | Uint8Array,
  schema: z.ZodType<T>,
): ParsedFrame<T> {
  const size = typeof raw === "string" ? byteLength(raw) : raw.byteLength;
  if (size > MAX_FRAME_BYTES) {
    return problem("frame_too_large", `frame of ${size} bytes exceeds ${MAX_FRAME_BYTES}`, true);
  }
  const text = typeof raw === "string" ? raw : new TextDecoder().decode(raw);
  let value: unknown;
  let pollution = false;
  try {
    value = mayHoldForbiddenKey(text)
      ? JSON.parse(text, (key, inner) => {
        if (FORBIDDEN_KEYS.has(key)) pollution = true;
        return inner;
      })
      : JSON.parse(text);
  } catch {
    return problem("malformed_frame", "frame is not valid JSON");
  }
  if (pollution) return problem("malformed_frame", "frame carries a forbidden key");
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? ` at ${issue.path.join(".")}` : "";
    return problem("malformed_frame", `frame rejected${where}: ${issue?.message ?? "invalid"}`);
  }
  return { ok: true, frame: parsed.data };
}

/** Serialises a frame; callers only pass values typed by the schemas. */
export function encodeFrame(frame: { type: string }): string {
  return JSON.stringify(frame);
}

function problem(code: ProtocolErrorCode, message: string, tooLarge = false): FrameProblem {
  return { ok: false, code, message, tooLarge };
}

// Upper bound is enough to decide quickly; exact UTF-8 length only when it could matter.
function byteLength(text: string): number {
  if (text.length * 3 <= MAX_FRAME_BYTES) return text.length;
  return new TextEncoder().encode(text).length;
}
