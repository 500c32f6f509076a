import { describe, expect, test } from "bun:test";
import {
  decodeBase64urlIgnorePadding,
  encodeBase64,
  encodeBase64urlNoPadding,
} from "@oslojs/encoding";
import {
  createSecrets,
  generateKeyringEntry,
  parseKeyring,
  SecretDecryptError,
  type SecretLocation,
} from "./secrets.ts";

const where: SecretLocation = { table: "sites", column: "db_password", row: "42" };
const entry1 = generateKeyringEntry(1);

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error("expected the promise to reject");
}

async function expectDecryptError(promise: Promise<unknown>): Promise<SecretDecryptError> {
  const err = await rejection(promise);
  expect(err).toBeInstanceOf(SecretDecryptError);
  return err as SecretDecryptError;
}

function parseError(value: string): string {
  try {
    parseKeyring(value);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("expected parseKeyring to throw");
}

describe("round trip", () => {
  test("random byte strings of many lengths decrypt to the same bytes", async () => {
    const secrets = await createSecrets(parseKeyring(entry1));
    for (const length of [0, 1, 15, 16, 17, 1000, 65536]) {
      const plaintext = new Uint8Array(length);
      for (let i = 0; i < length; i += 65536) {
        crypto.getRandomValues(plaintext.subarray(i, i + 65536));
      }
      const value = await secrets.encrypt(plaintext, where);
      expect(value).toMatch(/^v1:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]{22}:[A-Za-z0-9_-]*$/);
      expect(await secrets.decrypt(value, where)).toEqual(plaintext);
    }
  });

  test("unicode text decrypts to the same text", async () => {
    const secrets = await createSecrets(parseKeyring(entry1));
    for (const text of ["", "p@ss:w0rd,", "héllo wörld", "密码🔑", "\u0000\uffff", "a\u{1f600}b"]) {
      expect(await secrets.decryptText(await secrets.encrypt(text, where), where)).toBe(text);
    }
  });

  test("two encryptions of the same plaintext differ because each uses a fresh IV", async () => {
    const secrets = await createSecrets(parseKeyring(entry1));
    const a = await secrets.encrypt("same", where);
    const b = await secrets.encrypt("same", where);
    expect(a).not.toBe(b);
    expect(a.split(":")[1]).not.toBe(b.split(":")[1]);
  });
});

describe("tampering", () => {
  test("every single bit flip in iv, tag and ciphertext is rejected", async () => {
    const secrets = await createSecrets(parseKeyring(entry1));
    const value = await secrets.encrypt("hunter2!", where);
    const [prefix, ...parts] = value.split(":");
    let flips = 0;
    for (let part = 0; part < parts.length; part++) {
      const bytes = decodeBase64urlIgnorePadding(parts[part] ?? "");
      for (let bit = 0; bit < bytes.length * 8; bit++) {
        const flipped = bytes.slice();
        flipped[bit >> 3] = (flipped[bit >> 3] ?? 0) ^ (1 << (bit & 7));
        const tampered = parts.slice();
        tampered[part] = encodeBase64urlNoPadding(flipped);
        await expectDecryptError(secrets.decrypt([prefix, ...tampered].join(":"), where));
        flips++;
      }
    }
    expect(flips).toBe((12 + 16 + 8) * 8);
  });

  test("every truncation of the encoded value is rejected", async () => {
    const secrets = await createSecrets(parseKeyring(entry1));
    const value = await secrets.encrypt("a secret worth keeping", where);
    for (let length = 0; length < value.length; length++) {
      await expectDecryptError(secrets.decrypt(value.slice(0, length), where));
    }
  });

  test("non-canonical base64url and extra parts are rejected", async () => {
    const secrets = await createSecrets(parseKeyring(entry1));
    const value = await secrets.encrypt("x", where);
    for (const bad of [`${value}=`, `${value}:`, `x${value}`, value.replace("v1:", "v01:"), ""]) {
      await expectDecryptError(secrets.decrypt(bad, where));
    }
  });
});

describe("location binding", () => {
  test("a value does not decrypt in another row, column or table", async () => {
    const secrets = await createSecrets(parseKeyring(entry1));
    const value = await secrets.encrypt("secret", where);
    for (
      const other of [
        { ...where, row: "43" },
        { ...where, column: "api_token" },
        { ...where, table: "hosts" },
      ]
    ) {
      await expectDecryptError(secrets.decrypt(value, other));
    }
  });

  test('fields are encoded unambiguously ("a|bc" vs "ab|c")', async () => {
    const secrets = await createSecrets(parseKeyring(entry1));
    const pairs: [SecretLocation, SecretLocation][] = [
      // Collide under plain concatenation ("abc").
      [{ table: "a", column: "bc", row: "1" }, { table: "ab", column: "c", row: "1" }],
      // Collide under a "|" separator ("a|b|c|1").
      [{ table: "a|b", column: "c", row: "1" }, { table: "a", column: "b|c", row: "1" }],
      // Collide under a "," separator, or JSON without the brackets escaping quotes.
      [{ table: "t", column: 'a","b', row: "1" }, { table: "t", column: "a", row: 'b","1' }],
    ];
    for (const [stored, other] of pairs) {
      const value = await secrets.encrypt("secret", stored);
      expect(await secrets.decryptText(value, stored)).toBe("secret");
      await expectDecryptError(secrets.decrypt(value, other));
    }
  });
});

describe("key rotation", () => {
  test("old versions still decrypt after a new key is prepended", async () => {
    const old = await createSecrets(parseKeyring(entry1));
    const value = await old.encrypt("rotate me", where);
    const secrets = await createSecrets(parseKeyring(`${generateKeyringEntry(2)},${entry1}`));
    expect(secrets.currentVersion).toBe(2);
    expect(await secrets.decryptText(value, where)).toBe("rotate me");
  });

  test("needsRotation and reencrypt move a value to the newest version", async () => {
    const old = await createSecrets(parseKeyring(entry1));
    const value = await old.encrypt("rotate me", where);
    const secrets = await createSecrets(parseKeyring(`${generateKeyringEntry(2)},${entry1}`));
    expect(secrets.needsRotation(value)).toBe(true);
    const rotated = await secrets.reencrypt(value, where);
    expect(rotated.startsWith("v2:")).toBe(true);
    expect(secrets.needsRotation(rotated)).toBe(false);
    expect(await secrets.decryptText(rotated, where)).toBe("rotate me");
    await expectDecryptError(old.decrypt(rotated, where));
  });

  test("changing the version prefix to another known key does not decrypt", async () => {
    const secrets = await createSecrets(parseKeyring(`${generateKeyringEntry(2)},${entry1}`));
    const value = await secrets.encrypt("pinned", where);
    await expectDecryptError(secrets.decrypt(value.replace(/^v2:/, "v1:"), where));
  });

  test("the version is authenticated even if two versions share key bytes", async () => {
    // parseKeyring refuses reused keys, so build the keyring by hand to isolate the AAD binding.
    const [entry] = parseKeyring(entry1);
    if (!entry) throw new Error("no entry");
    const secrets = await createSecrets([{ version: 2, key: entry.key }, entry]);
    const value = await secrets.encrypt("pinned", where);
    await expectDecryptError(secrets.decrypt(value.replace(/^v2:/, "v1:"), where));
  });

  test("a value under a dropped key version fails with SecretDecryptError", async () => {
    const old = await createSecrets(parseKeyring(entry1));
    const value = await old.encrypt("orphaned", where);
    const secrets = await createSecrets(parseKeyring(generateKeyringEntry(2)));
    const err = await expectDecryptError(secrets.decrypt(value, where));
    expect(err.message).toContain("unknown key version");
    expect(secrets.needsRotation(value)).toBe(true);
  });
});

describe("keyring parsing", () => {
  const key = entry1.slice(2);
  const [key2, key3] = [generateKeyringEntry(2).slice(2), generateKeyringEntry(3).slice(2)];
  const cases: [string, string, RegExp][] = [
    ["empty string", "", /empty/],
    [
      "duplicate versions",
      `2:${key},1:${key2},2:${key3}`,
      /entry 3: version 2 appears more than once/,
    ],
    ["16-byte key", `1:${encodeBase64(new Uint8Array(16).fill(7))}`, /entry 1: key is 16 bytes/],
    [
      "non-base64 key",
      `1:${key.slice(0, 20)}!${key.slice(21)}`,
      /entry 1: key is not valid base64/,
    ],
    ["version 0", `0:${key}`, /entry 1: version must be a positive integer/],
    ["version abc", `2:${key},abc:${key}`, /entry 2: version must be a positive integer/],
    ["missing version", key, /entry 1: must be <version>:<base64 key>/],
    ["trailing comma", `1:${key},`, /entry 2: is empty/],
    ["reused key", `2:${key},1:${key}`, /entry 2: key repeats the key of entry 1/],
  ];
  for (const [name, value, message] of cases) {
    test(`rejects ${name} without echoing key text`, () => {
      const text = parseError(value);
      expect(text).toMatch(message);
      for (const k of [key, key2, key3]) {
        expect(text).not.toContain(k);
        expect(text).not.toContain(k.slice(0, 8));
      }
    });
  }

  test("generated entries parse to 32-byte keys, newest first", () => {
    const keyring = parseKeyring(` ${generateKeyringEntry(3)} , ${entry1}`);
    expect(keyring.map((entry) => entry.version)).toEqual([3, 1]);
    expect(keyring.every((entry) => entry.key.length === 32)).toBe(true);
    expect(() => generateKeyringEntry(0)).toThrow();
  });
});

describe("error messages", () => {
  test("a failed decrypt names the cell but not the plaintext or ciphertext", async () => {
    const secrets = await createSecrets(parseKeyring(entry1));
    const plaintext = "correct-horse-battery-staple";
    const value = await secrets.encrypt(plaintext, where);
    const ciphertext = value.split(":")[3] ?? "";
    for (const attempt of [value, value.slice(0, -2)]) {
      const err = await expectDecryptError(secrets.decrypt(attempt, { ...where, row: "7" }));
      expect(err.message).toStartWith("Cannot decrypt secret for sites.db_password: ");
      expect(err.message).not.toContain(plaintext);
      expect(err.message).not.toContain(ciphertext);
      expect(err.message).not.toContain(ciphertext.slice(0, 8));
      expect(err.message).not.toContain(value.split(":")[1] ?? "");
    }
  });
});
