import { afterAll, beforeAll, describe, expect, setSystemTime, test } from "bun:test";
import { decodeBase32IgnorePadding } from "@oslojs/encoding";
import { generateTOTP } from "@oslojs/otp";
import { encode as encodeQr } from "uqr";
import { users } from "../../db/schema.ts";
import { raceTransactions } from "../../scripts/testing/race.ts";
import { openTestDatabase, type TestDatabase } from "../../scripts/testing/db.ts";
import {
  createSecrets,
  generateKeyringEntry,
  parseKeyring,
  SecretDecryptError,
} from "./secrets.ts";
import {
  consumeTotpStep,
  createTotpSetup,
  decryptTotpSecret,
  encryptTotpSecret,
  generateTotpSecret,
  matchTotpStep,
  renderQrSvg,
  totpStep,
  verifyAndConsumeTotp,
} from "./totp.ts";

let database: TestDatabase;
let userCount = 0;

beforeAll(async () => {
  database = await openTestDatabase();
});
afterAll(() => database.close());

async function newUser(): Promise<string> {
  const id = `usr_totp${++userCount}`;
  await database.db.insert(users).values({ id, email: `${id}@example.com`, passwordHash: "x" });
  return id;
}

// A fixed key and instant, so any accidental code collision between steps would show every run.
const secret = new TextEncoder().encode("caddis-totp-test-key");
const now = new Date("2031-05-17T10:20:07.500Z");

// Oslo's own TOTP generator reads the (mocked) wall clock: independent of our step arithmetic.
function oslosCodeAt(at: Date): string {
  setSystemTime(at);
  try {
    return generateTOTP(secret, 30, 6);
  } finally {
    setSystemTime();
  }
}

function codeForStepOffset(offset: number): string {
  return oslosCodeAt(new Date(now.getTime() + offset * 30_000));
}

function verify(userId: string, code: string, at = now): Promise<boolean> {
  return database.db.transaction((tx) =>
    verifyAndConsumeTotp(tx, { userId, secret, code, now: at })
  );
}

describe("verification window", () => {
  test("matches the RFC 6238 SHA-1 test vectors", () => {
    const rfcKey = new TextEncoder().encode("12345678901234567890");
    // RFC 6238 appendix B, last six of the eight digits.
    const vectors: [number, string][] = [
      [59, "287082"],
      [1111111109, "081804"],
      [1111111111, "050471"],
      [1234567890, "005924"],
      [2000000000, "279037"],
      [20000000000, "353130"],
    ];
    for (const [seconds, code] of vectors) {
      expect(matchTotpStep(rfcKey, code, new Date(seconds * 1000))).toBe(Math.floor(seconds / 30));
    }
  });

  test("accepts the codes of steps T-1, T and T+1 and says which step matched", () => {
    const t = totpStep(now);
    expect(t).toBe(Math.floor(now.getTime() / 30_000));
    expect(matchTotpStep(secret, codeForStepOffset(-1), now)).toBe(t - 1);
    expect(matchTotpStep(secret, codeForStepOffset(0), now)).toBe(t);
    expect(matchTotpStep(secret, codeForStepOffset(1), now)).toBe(t + 1);
  });

  test("rejects the codes of steps T-2 and T+2", () => {
    expect(matchTotpStep(secret, codeForStepOffset(-2), now)).toBeUndefined();
    expect(matchTotpStep(secret, codeForStepOffset(2), now)).toBeUndefined();
  });

  test("accepts T-1, T and T+1 codes through verifyAndConsumeTotp", async () => {
    const userId = await newUser();
    for (const offset of [-1, 0, 1]) {
      expect(await verify(userId, codeForStepOffset(offset))).toBe(true);
    }
    for (const offset of [-2, 2]) {
      expect(await verify(userId, codeForStepOffset(offset))).toBe(false);
    }
  });

  test("rejects malformed codes, even when they hold the right digits", async () => {
    const userId = await newUser();
    const code = codeForStepOffset(0);
    const arabicIndic = [...code].map((d) => String.fromCharCode(0x0660 + Number(d))).join("");
    const fullWidth = [...code].map((d) => String.fromCharCode(0xff10 + Number(d))).join("");
    const malformed = [
      "",
      "12345",
      "1234567",
      "12a456",
      "١٢٣٤٥٦",
      arabicIndic,
      fullWidth,
      code.slice(0, 5),
      `${code}0`,
      `0${code}`,
      `+${code.slice(1)}`,
      `${code.slice(0, 3)}-${code.slice(3)}`,
      `${code.slice(0, 3)}\t${code.slice(3)}`,
      `${code}\u0000`,
      " ".repeat(100_000) + code,
    ];
    for (const bad of malformed) {
      expect(matchTotpStep(secret, bad, now)).toBeUndefined();
      expect(await verify(userId, bad)).toBe(false);
    }
    // None of that spent the step: the real code still works.
    expect(await verify(userId, code)).toBe(true);
  });

  test("accepts a code with surrounding spaces or grouped as apps display it", async () => {
    const code = codeForStepOffset(0);
    expect(await verify(await newUser(), `  ${code}\n`)).toBe(true);
    expect(await verify(await newUser(), ` ${code.slice(0, 3)} ${code.slice(3)} `)).toBe(true);
  });

  test("rejects a code made with another key", () => {
    setSystemTime(now);
    const foreign = generateTOTP(generateTotpSecret(), 30, 6);
    setSystemTime();
    // One run in ~300,000 a random key yields one of our window's codes; that is no failure.
    const ours = [-1, 0, 1].map(codeForStepOffset);
    if (!ours.includes(foreign)) expect(matchTotpStep(secret, foreign, now)).toBeUndefined();
  });

  test("refuses an invalid clock instead of guessing", () => {
    expect(() => matchTotpStep(secret, "123456", new Date(Number.NaN))).toThrow(TypeError);
  });
});

describe("single use", () => {
  test("rejects a replayed TOTP code", async () => {
    const userId = await newUser();
    const code = codeForStepOffset(0);
    expect(await verify(userId, code)).toBe(true);
    expect(await verify(userId, code)).toBe(false);
  });

  test("still rejects the replayed code a step later, while it is T-1", async () => {
    const userId = await newUser();
    const code = codeForStepOffset(0);
    expect(await verify(userId, code)).toBe(true);
    expect(await verify(userId, code, new Date(now.getTime() + 30_000))).toBe(false);
  });

  test("lets two users spend the same step", async () => {
    const code = codeForStepOffset(0);
    expect(await verify(await newUser(), code)).toBe(true);
    expect(await verify(await newUser(), code)).toBe(true);
  });

  test("gives exactly one success to ten parallel uses of one code", async () => {
    const userId = await newUser();
    const code = codeForStepOffset(0);
    const results = await raceTransactions(
      database,
      10,
      (tx) => verifyAndConsumeTotp(tx, { userId, secret, code, now }),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  test("forgets spent steps more than ten minutes older than a newly spent one", async () => {
    const userId = await newUser();
    const t = totpStep(now);
    for (const step of [t - 30, t - 21, t - 20, t - 1]) {
      expect(await database.db.transaction((tx) => consumeTotpStep(tx, userId, step))).toBe(true);
    }
    expect(await database.db.transaction((tx) => consumeTotpStep(tx, userId, t))).toBe(true);
    const rows = await database.rawSql(
      `select step from totp_used_steps where user_id = '${userId}' order by step`,
    );
    expect(rows.map((r) => Number(r.step))).toEqual([t - 20, t - 1, t]);
  });
});

describe("enrolment", () => {
  test("generates distinct 20-byte secrets", () => {
    const a = generateTotpSecret();
    expect(a).toHaveLength(20);
    expect(generateTotpSecret()).not.toEqual(a);
  });

  test("builds an otpauth URI with issuer, account, secret, SHA1, 6 digits and 30 s", () => {
    const setup = createTotpSetup("alice@example.com", secret);
    const url = new URL(setup.uri);
    expect(url.protocol).toBe("otpauth:");
    expect(url.host).toBe("totp");
    expect(decodeURIComponent(url.pathname)).toBe("/Caddis:alice@example.com");
    expect(url.searchParams.get("issuer")).toBe("Caddis");
    expect(url.searchParams.get("algorithm")).toBe("SHA1");
    expect(url.searchParams.get("digits")).toBe("6");
    expect(url.searchParams.get("period")).toBe("30");
    expect(url.searchParams.get("secret")).toBe(setup.manualKey);
    expect(setup.manualKey).toMatch(/^[A-Z2-7]{32}$/);
    expect(decodeBase32IgnorePadding(setup.manualKey)).toEqual(secret);
  });

  test("renders the URI as an inert SVG that CSP default-src 'self' allows inline", () => {
    const { qrSvg } = createTotpSetup("alice@example.com", secret);
    expect(qrSvg.startsWith("<svg")).toBe(true);
    expect(qrSvg.endsWith("</svg>")).toBe(true);
    expect(qrSvg).not.toContain("<script");
    expect(qrSvg).not.toMatch(/\son[a-z]+\s*=/i);
    expect(qrSvg).not.toContain("style");
    expect(qrSvg).not.toMatch(/href|url\(|<image|<foreignObject/i);
    expect(qrSvg).not.toContain(createTotpSetup("alice@example.com", secret).manualKey);
  });

  test("draws exactly the dark modules of the QR matrix", () => {
    const uri = createTotpSetup("alice@example.com", secret).uri;
    const svg = renderQrSvg(uri);
    const { data, size } = encodeQr(uri, { ecc: "M", border: 4 });
    expect(svg).toContain(`viewBox="0 0 ${size} ${size}"`);
    const drawn = Array.from({ length: size }, () => Array<boolean>(size).fill(false));
    const path = /<path d="([^"]*)"/.exec(svg)?.[1] ?? "";
    for (const [, x, y, w] of path.matchAll(/M(\d+) (\d+)h(\d+)v1h-\3z/g)) {
      for (let i = 0; i < Number(w); i++) {
        const row = drawn[Number(y)];
        if (row) row[Number(x) + i] = true;
      }
    }
    expect(path.replace(/M(\d+) (\d+)h(\d+)v1h-\3z/g, "")).toBe("");
    expect(drawn).toEqual(data);
  });
});

describe("secret storage", () => {
  test("round-trips a secret through encryption and keeps it out of the stored value", async () => {
    const secrets = await createSecrets(parseKeyring(generateKeyringEntry(1)));
    const key = generateTotpSecret();
    const stored = await encryptTotpSecret(secrets, "usr_a", key);
    expect(stored).not.toContain(createTotpSetup("a@example.com", key).manualKey);
    expect(await decryptTotpSecret(secrets, "usr_a", stored)).toEqual(key);
  });

  test("will not decrypt user A's secret as user B's", async () => {
    const secrets = await createSecrets(parseKeyring(generateKeyringEntry(1)));
    const stored = await encryptTotpSecret(secrets, "usr_a", generateTotpSecret());
    await expect(decryptTotpSecret(secrets, "usr_b", stored)).rejects.toBeInstanceOf(
      SecretDecryptError,
    );
  });
});
