import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { users } from "../../db/schema.ts";
import { openTestDatabase, type TestDatabase } from "../../scripts/testing/db.ts";
import {
  accountThrottleKey,
  checkThrottle,
  clearThrottle,
  IP_FAILURE_LIMIT,
  ipThrottleKey,
  loginThrottleKeys,
  MAX_DELAY_MS,
  pruneThrottles,
  recordLoginFailure,
  THROTTLE_WINDOW_MS,
  type ThrottleVerdict,
} from "./throttle.ts";

let database: TestDatabase;
beforeAll(async () => {
  database = await openTestDatabase();
});
afterAll(async () => {
  await database.close();
});

const T0 = new Date("2030-01-01T12:00:00Z");
const later = (ms: number) => new Date(T0.getTime() + ms);
const fail = (keys: string[], now = T0) =>
  database.db.transaction((tx) => recordLoginFailure(tx, keys, now));
const check = (keys: string[], now = T0) => checkThrottle(database.db, keys, now);
const failures = async (key: string) => {
  const rows = await database.rawSql(
    `select failures from login_throttles where key = '${key.replaceAll("'", "''")}'`,
  );
  return rows[0]?.failures;
};

// Each test uses its own emails and IPs, so they share one database without interfering.
let counter = 0;
let ipCounter = 0;
const freshEmail = () => `user${++counter}@example.com`;
const freshIp = () => `198.51.100.${++ipCounter}`;

describe("per-account throttling", () => {
  test("allows four failures and blocks on the fifth, with a Retry-After", async () => {
    const keys = [accountThrottleKey(freshEmail())];
    for (let i = 0; i < 4; i++) {
      await fail(keys);
      expect(await check(keys)).toEqual({ allowed: true });
    }
    await fail(keys);
    expect(await check(keys)).toEqual({ allowed: false, retryAfterSeconds: 1 });
  });

  test("doubles the delay with each further failure, up to 15 minutes", async () => {
    const keys = [accountThrottleKey(freshEmail())];
    const seen: number[] = [];
    for (let i = 1; i <= 20; i++) {
      await fail(keys);
      const verdict = await check(keys);
      if (!verdict.allowed) seen.push(verdict.retryAfterSeconds);
    }
    expect(seen).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900, 900, 900, 900]);
    expect(MAX_DELAY_MS).toBe(900_000);
  });

  test("lets the attempt through once the block has passed", async () => {
    const keys = [accountThrottleKey(freshEmail())];
    for (let i = 0; i < 6; i++) await fail(keys);
    expect(await check(keys, later(1_999))).toEqual({ allowed: false, retryAfterSeconds: 1 });
    expect(await check(keys, later(2_000))).toEqual({ allowed: true });
  });

  test("even a long attack never blocks for longer than the cap", async () => {
    const keys = [accountThrottleKey(freshEmail())];
    for (let i = 0; i < 60; i++) await fail(keys);
    expect(await check(keys)).toEqual({ allowed: false, retryAfterSeconds: 900 });
    expect(await check(keys, later(MAX_DELAY_MS))).toEqual({ allowed: true });
  });

  test("starts counting afresh once the window has passed", async () => {
    const key = accountThrottleKey(freshEmail());
    for (let i = 0; i < 4; i++) await fail([key]);
    await fail([key], later(THROTTLE_WINDOW_MS - 1));
    expect(await failures(key)).toBe(5);
    expect((await check([key], later(THROTTLE_WINDOW_MS - 1))).allowed).toBe(false);

    const next = later(THROTTLE_WINDOW_MS + 1_000);
    await fail([key], next);
    expect(await failures(key)).toBe(1);
    expect(await check([key], next)).toEqual({ allowed: true });
  });

  test("a successful sign-in clears the account's counter but not the IP's", async () => {
    const email = freshEmail();
    const keys = loginThrottleKeys(email, freshIp());
    for (let i = 0; i < 5; i++) await fail(keys);
    expect((await check(keys)).allowed).toBe(false);

    await database.db.transaction(async (tx) => {
      for (const key of keys) await clearThrottle(tx, key, later(1_000));
    });
    expect(await check(keys, later(1_000))).toEqual({ allowed: true });
    expect(await failures(accountThrottleKey(email))).toBe(0);
    expect(await failures(keys[1] ?? "")).toBe(5);

    // The account starts again from zero: four more failures pass before the next block.
    for (let i = 0; i < 4; i++) await fail(keys, later(1_000));
    expect(await check(keys, later(1_000))).toEqual({ allowed: true });
  });

  test("an unknown email is throttled exactly like a known one", async () => {
    const known = freshEmail();
    await database.db.insert(users).values({
      id: `usr_${counter}`,
      email: known,
      passwordHash: "x",
    });
    const run = async (email: string) => {
      const keys = [accountThrottleKey(email)];
      const verdicts: ThrottleVerdict[] = [];
      for (let i = 0; i < 8; i++) {
        await fail(keys);
        verdicts.push(await check(keys));
      }
      verdicts.push(await check(keys, later(60_000)));
      return verdicts;
    };
    expect(await run("nobody-here@example.com")).toEqual(await run(known));
  });

  test("keys an account by its normalised email", () => {
    expect(accountThrottleKey("  Alice@Example.COM ")).toBe("acct:alice@example.com");
    expect(accountThrottleKey("ａｌｉｃｅ@example.com")).toBe("acct:alice@example.com");
  });
});

describe("per-IP throttling", () => {
  test("blocks one IP spraying failures across 40 accounts", async () => {
    const ip = freshIp();
    for (let i = 0; i < 40; i++) await fail(loginThrottleKeys(freshEmail(), ip));
    expect(await failures(ipThrottleKey(ip))).toBe(40);

    const fromThatIp = await check(loginThrottleKeys(freshEmail(), ip));
    expect(fromThatIp).toEqual({ allowed: false, retryAfterSeconds: 900 });
    // The accounts themselves saw one failure each, so their owners elsewhere are unaffected.
    expect(await check(loginThrottleKeys(`user${counter}@example.com`, "192.0.2.1"))).toEqual({
      allowed: true,
    });
  });

  test("allows an IP its higher allowance before delaying it", async () => {
    const ip = freshIp();
    for (let i = 1; i < IP_FAILURE_LIMIT; i++) await fail(loginThrottleKeys(freshEmail(), ip));
    expect((await check([ipThrottleKey(ip)])).allowed).toBe(true);
    await fail(loginThrottleKeys(freshEmail(), ip));
    expect(await check([ipThrottleKey(ip)])).toEqual({ allowed: false, retryAfterSeconds: 1 });
  });

  test("keys IPv6 clients by their /64 and IPv4 by the address", () => {
    expect(ipThrottleKey("2001:db8:1:2:aaaa::1")).toBe("ip:2001:db8:1:2::/64");
    expect(ipThrottleKey("2001:db8:1:2:bbbb::2")).toBe("ip:2001:db8:1:2::/64");
    expect(ipThrottleKey("2001:db8:1:3::1")).toBe("ip:2001:db8:1:3::/64");
    expect(ipThrottleKey("::ffff:192.0.2.7")).toBe("ip:192.0.2.7");
    expect(loginThrottleKeys("a@example.com", undefined)).toEqual(["acct:a@example.com"]);
  });
});

describe("durability", () => {
  test("counts every one of 20 concurrent failures", async () => {
    const keys = loginThrottleKeys(freshEmail(), freshIp());
    await Promise.all(Array.from({ length: 20 }, () => fail(keys)));
    expect(await failures(keys[0] ?? "")).toBe(20);
    expect(await failures(keys[1] ?? "")).toBe(20);
    expect(await check(keys)).toEqual({ allowed: false, retryAfterSeconds: 900 });
  });

  test("prunes only keys whose window and block are both over", async () => {
    const quiet = accountThrottleKey(freshEmail());
    const blocked = accountThrottleKey(freshEmail());
    const recent = accountThrottleKey(freshEmail());
    await fail([quiet], later(-THROTTLE_WINDOW_MS - 1));
    for (let i = 0; i < 20; i++) await fail([blocked], later(-THROTTLE_WINDOW_MS + 1));
    await fail([recent]);
    // A later time than every other test's rows would prune theirs too; T0 keeps them.
    await pruneThrottles(database.db, T0);
    expect(await failures(quiet)).toBeUndefined();
    expect(await failures(blocked)).toBe(20);
    expect(await failures(recent)).toBe(1);
  });
});
