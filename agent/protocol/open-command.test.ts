import { describe, expect, test } from "bun:test";
import type { CommandEnvelope } from "./commands.ts";
import { commandTimeProblem, openCommand } from "./open-command.ts";
import {
  commandMessage,
  generateSigningKeyPair,
  importPrivateKey,
  importPublicKey,
  signText,
} from "./signing.ts";
import { TIMING } from "./version.ts";

const api = await generateSigningKeyPair();
const apiKey = await importPublicKey(api.publicKey);
const envelope: CommandEnvelope = {
  id: "cmd_one",
  hostId: "host_a",
  siteId: null,
  kind: "host.diagnose",
  payload: {},
  issuedAt: "2026-11-23T10:00:00.000Z",
  notBefore: "2026-11-23T10:00:00.000Z",
  expiresAt: "2026-11-23T10:10:00.000Z",
};

async function signed(body: string, privateKey = api.privateKey) {
  return {
    body,
    signature: await signText(await importPrivateKey(privateKey), commandMessage(body)),
  };
}

describe("openCommand", () => {
  test("a body signed by the pinned key opens to its envelope", async () => {
    const frame = await signed(JSON.stringify(envelope));
    expect(await openCommand(apiKey, frame.body, frame.signature)).toEqual({
      ok: true,
      command: envelope,
    });
  });

  test("another key's signature or a tampered body is refused, naming no id", async () => {
    const forged = await signed(
      JSON.stringify(envelope),
      (await generateSigningKeyPair()).privateKey,
    );
    const genuine = await signed(JSON.stringify(envelope));
    const tampered = JSON.stringify({ ...envelope, hostId: "host_b" });
    for (
      const [body, signature] of [[forged.body, forged.signature], [tampered, genuine.signature]]
    ) {
      expect(await openCommand(apiKey, body!, signature!)).toMatchObject({
        ok: false,
        commandId: null,
        reason: "bad_signature",
      });
    }
  });

  test("a signed body that is not an envelope is malformed, with the id it claims", async () => {
    const frame = await signed(JSON.stringify({ ...envelope, payload: "not an object" }));
    expect(await openCommand(apiKey, frame.body, frame.signature)).toMatchObject({
      ok: false,
      commandId: "cmd_one",
      reason: "malformed",
    });
    const polluted = await signed(`{"id":"cmd_two","__proto__":{"x":1}}`);
    expect(await openCommand(apiKey, polluted.body, polluted.signature)).toMatchObject({
      ok: false,
      reason: "malformed",
    });
  });
});

describe("commandTimeProblem", () => {
  const at = (iso: string) => new Date(iso);
  test("runs inside its window, tolerating the clock skew before notBefore", () => {
    expect(commandTimeProblem(envelope, at("2026-11-23T10:05:00.000Z"))).toBeNull();
    const early = new Date(Date.parse(envelope.notBefore) - TIMING.clockSkewMs + 1);
    expect(commandTimeProblem(envelope, early)).toBeNull();
  });

  test("too early or expired is refused with the command's id", () => {
    const tooEarly = new Date(Date.parse(envelope.notBefore) - TIMING.clockSkewMs - 1);
    expect(commandTimeProblem(envelope, tooEarly)).toMatchObject({
      commandId: "cmd_one",
      reason: "not_yet_valid",
    });
    expect(commandTimeProblem(envelope, at(envelope.expiresAt))).toMatchObject({
      commandId: "cmd_one",
      reason: "expired",
    });
  });
});
