import { describe, expect, test } from "bun:test";
import { encodeBase64urlNoPadding } from "@oslojs/encoding";
import { createAccessTokens, signingKeyId } from "./jwt.ts";

const keyA = new TextEncoder().encode("signing-key-A-0123456789abcdefghijklmnop");
const keyB = new TextEncoder().encode("signing-key-B-0123456789abcdefghijklmnop");
const now = new Date("2030-01-01T00:00:00Z");
const subject = { userId: "usr_1", sessionId: "ses_1" };
const b64 = (value: unknown) =>
  encodeBase64urlNoPadding(new TextEncoder().encode(JSON.stringify(value)));

describe("signing-key rotation", () => {
  test("the newest key signs, naming itself in kid", async () => {
    const tokens = await createAccessTokens([keyB, keyA]);
    const token = await tokens.sign(subject, now);
    const header = JSON.parse(atob(token.split(".")[0] ?? ""));
    expect(header).toEqual({ alg: "HS256", typ: "JWT", kid: signingKeyId(keyB) });
    expect(await tokens.verify(token, now)).toMatchObject({ sub: "usr_1", sid: "ses_1" });
  });

  test("tokens of the previous key keep working during the overlap, and stop once it is removed", async () => {
    const before = await (await createAccessTokens([keyA])).sign(subject, now);
    expect(await (await createAccessTokens([keyB, keyA])).verify(before, now)).toBeDefined();
    expect(await (await createAccessTokens([keyB])).verify(before, now)).toBeUndefined();
  });

  test("a kid of one key with the signature of another is refused", async () => {
    const tokens = await createAccessTokens([keyB, keyA]);
    const byA = await (await createAccessTokens([keyA])).sign(subject, now);
    const [, payload, signature] = byA.split(".");
    const headerB = b64({ alg: "HS256", typ: "JWT", kid: signingKeyId(keyB) });
    expect(await tokens.verify(`${headerB}.${payload}.${signature}`, now)).toBeUndefined();
  });

  test("unknown kids, missing kids and other algorithms are refused", async () => {
    const tokens = await createAccessTokens([keyA]);
    const [, payload, signature] = (await tokens.sign(subject, now)).split(".");
    for (
      const header of [
        { alg: "HS256", typ: "JWT" },
        { alg: "HS256", typ: "JWT", kid: "nope" },
        { alg: "none", typ: "JWT", kid: signingKeyId(keyA) },
        { alg: "HS512", typ: "JWT", kid: signingKeyId(keyA) },
        { typ: "JWT", alg: "HS256", kid: signingKeyId(keyA) },
      ]
    ) {
      expect(await tokens.verify(`${b64(header)}.${payload}.${signature}`, now)).toBeUndefined();
    }
  });

  test("the kid reveals nothing of the key", () => {
    const kid = signingKeyId(keyA);
    expect(kid).toMatch(/^[A-Za-z0-9_-]{12}$/);
    expect(new TextDecoder().decode(keyA)).not.toContain(kid);
  });
});

describe("tokens verified before", () => {
  test("still expire: the same token half an hour later is refused", async () => {
    const tokens = await createAccessTokens([keyA]);
    const token = await tokens.sign(subject, now);
    expect(await tokens.verify(token, now)).toMatchObject({ sub: "usr_1" });
    const later = new Date(now.getTime() + 30 * 60_000);
    expect(await tokens.verify(token, later)).toBeUndefined();
    // Before its iat (a clock set back more than a minute) it is not valid either.
    expect(await tokens.verify(token, new Date(now.getTime() - 2 * 60_000))).toBeUndefined();
  });

  test("an altered copy of a verified token is refused", async () => {
    const tokens = await createAccessTokens([keyA]);
    const token = await tokens.sign(subject, now);
    expect(await tokens.verify(token, now)).toBeDefined();
    const [header, payload, signature = ""] = token.split(".");
    const otherUser = b64({ ...JSON.parse(atob(payload ?? "")), sub: "usr_2" });
    const flipped = `${signature.startsWith("A") ? "B" : "A"}${signature.slice(1)}`;
    for (
      const altered of [
        `${header}.${otherUser}.${signature}`,
        `${header}.${payload}.${flipped}`,
        `${token}.`,
        ` ${token}`,
      ]
    ) {
      expect(await tokens.verify(altered, now)).toBeUndefined();
    }
    expect(await tokens.verify(token, now)).toMatchObject({ sub: "usr_1", sid: "ses_1" });
  });
});
