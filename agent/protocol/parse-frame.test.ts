import { describe, expect, test } from "bun:test";
import { AgentFrame, ServerFrame } from "./frames.ts";
import { parseFrame } from "./parse-frame.ts";
import { MAX_FRAME_BYTES } from "./version.ts";

const heartbeat = { type: "heartbeat" as const, at: "2026-11-23T10:00:00.000Z" };

describe("parseFrame", () => {
  test("accepts a well-formed frame of either direction", () => {
    expect(parseFrame(JSON.stringify(heartbeat), AgentFrame)).toEqual({
      ok: true,
      frame: heartbeat,
    });
    const bytes = new TextEncoder().encode(JSON.stringify(heartbeat));
    expect(parseFrame(bytes, ServerFrame)).toEqual({ ok: true, frame: heartbeat });
  });

  test("refuses malformed JSON, unknown types and unknown fields without throwing", () => {
    for (const raw of ["{", "null", "42", '"text"', "[]", '{"type":"launch_missiles"}']) {
      expect(parseFrame(raw, AgentFrame)).toMatchObject({ ok: false, code: "malformed_frame" });
    }
    const extra = JSON.stringify({ ...heartbeat, admin: true });
    expect(parseFrame(extra, AgentFrame)).toMatchObject({ ok: false, code: "malformed_frame" });
  });

  test("refuses frames of the other direction", () => {
    const challenge = { type: "challenge", nonce: "abc", serverTime: heartbeat.at };
    expect(parseFrame(JSON.stringify(challenge), ServerFrame).ok).toBe(true);
    expect(parseFrame(JSON.stringify(challenge), AgentFrame).ok).toBe(false);
  });

  test("refuses prototype-pollution keys at any depth and leaves Object.prototype alone", () => {
    const attacks = [
      '{"type":"heartbeat","at":"2026-11-23T10:00:00.000Z","__proto__":{"polluted":1}}',
      '{"type":"metrics","sample":{"constructor":{"prototype":{"polluted":1}}}}',
      '{"type":"command_result","commandId":"cmd_1","outcome":"succeeded","result":' +
      '{"nested":{"__proto__":{"polluted":1}}},"error":null,"finishedAt":"2026-11-23T10:00:00Z"}',
      // The same keys spelled with JSON escapes, which parse to the very same names.
      '{"type":"heartbeat","at":"2026-11-23T10:00:00.000Z","\\u005f_proto__":{"polluted":1}}',
      '{"type":"metrics","sample":{"\\u0063onstructor":{"polluted":1}}}',
      '{"type":"metrics","sample":{"proto\\u0074ype":{"polluted":1}}}',
    ];
    for (const raw of attacks) {
      expect(parseFrame(raw, AgentFrame)).toMatchObject({
        ok: false,
        message: "frame carries a forbidden key",
      });
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test("flags a frame over 1 MiB as too large (the socket closes with 1009)", () => {
    const padding = "x".repeat(MAX_FRAME_BYTES);
    const raw = JSON.stringify({ type: "error", code: "internal", message: padding });
    expect(parseFrame(raw, AgentFrame)).toMatchObject({
      ok: false,
      code: "frame_too_large",
      tooLarge: true,
    });
    // Multi-byte characters count in bytes, not UTF-16 units.
    const wide = "é".repeat(MAX_FRAME_BYTES / 2 + 1);
    expect(parseFrame(wide, AgentFrame)).toMatchObject({ tooLarge: true });
  });
});
