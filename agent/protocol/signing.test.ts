import { describe, expect, test } from "bun:test";
import { fromBase64Url, toBase64Url } from "./encoding.ts";
import {
  authMessage,
  commandMessage,
  generateSigningKeyPair,
  importPrivateKey,
  importPublicKey,
  isPublicKey,
  privateKeyFromSeed,
  publicKeyOf,
  signText,
  verifyText,
} from "./signing.ts";

describe("Ed25519 signing", () => {
  test("a signature verifies with its public key and nothing else", async () => {
    const mine = await generateSigningKeyPair();
    const other = await generateSigningKeyPair();
    const text = commandMessage('{"id":"cmd_1"}');
    const signature = await signText(await importPrivateKey(mine.privateKey), text);
    expect(await verifyText(await importPublicKey(mine.publicKey), text, signature)).toBe(true);
    expect(await verifyText(await importPublicKey(other.publicKey), text, signature)).toBe(false);
    const tampered = commandMessage('{"id":"cmd_2"}');
    expect(await verifyText(await importPublicKey(mine.publicKey), tampered, signature)).toBe(
      false,
    );
  });

  test("a signature for a challenge answer never passes as a command signature", async () => {
    const pair = await generateSigningKeyPair();
    const key = await importPrivateKey(pair.privateKey);
    const answer = authMessage({ nonce: "n", hostId: "host_1", signedAt: "2026-11-23T10:00:00Z" });
    const signature = await signText(key, answer);
    const asCommand = commandMessage(answer.slice(answer.indexOf("\n") + 1));
    expect(await verifyText(await importPublicKey(pair.publicKey), asCommand, signature)).toBe(
      false,
    );
  });

  test("malformed signatures are false, never a throw", async () => {
    const pair = await generateSigningKeyPair();
    const key = await importPublicKey(pair.publicKey);
    for (const bad of ["", "!!!", "A".repeat(86), toBase64Url(new Uint8Array(63))]) {
      expect(await verifyText(key, "text", bad)).toBe(false);
    }
  });

  test("public keys must be 32 bytes of base64url", async () => {
    expect(isPublicKey(toBase64Url(new Uint8Array(32)))).toBe(true);
    expect(isPublicKey(toBase64Url(new Uint8Array(31)))).toBe(false);
    expect(isPublicKey("not/base64+")).toBe(false);
    await expect(importPublicKey("short")).rejects.toThrow("32 bytes");
  });

  test("a configured seed yields a stable key pair whose public half signs-verifies", async () => {
    const seed = crypto.getRandomValues(new Uint8Array(32));
    const pkcs8 = privateKeyFromSeed(seed);
    expect(privateKeyFromSeed(seed)).toBe(pkcs8);
    const publicKey = await publicKeyOf(pkcs8);
    expect(fromBase64Url(publicKey)).toHaveLength(32);
    const signature = await signText(await importPrivateKey(pkcs8), "hello");
    expect(await verifyText(await importPublicKey(publicKey), "hello", signature)).toBe(true);
    expect(() => privateKeyFromSeed(new Uint8Array(31))).toThrow("32 bytes");
  });
});
