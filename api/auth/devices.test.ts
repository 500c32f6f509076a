import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { users } from "../../db/schema.ts";
import { openTestDatabase, type TestDatabase } from "../../scripts/testing/db.ts";
import {
  describeUserAgent,
  type DeviceSighting,
  forgetDevice,
  listDevices,
  recogniseDevice,
  userAgentFamily,
} from "./devices.ts";
import { hashToken } from "./tokens.ts";

const CHROME_131 =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const CHROME_132 = CHROME_131.replace("Chrome/131.0.0.0", "Chrome/132.0.0.0");
const FIREFOX_WINDOWS =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";

let database: TestDatabase;
let alice: string;
let bob: string;
beforeAll(async () => {
  database = await openTestDatabase();
  alice = "usr_alice";
  bob = "usr_bob";
  await database.db.insert(users).values([
    { id: alice, email: "alice@example.com", passwordHash: "x" },
    { id: bob, email: "bob@example.com", passwordHash: "x" },
  ]);
});
afterAll(async () => {
  await database.close();
});

const T0 = new Date("2030-01-01T12:00:00Z");
const later = (ms: number) => new Date(T0.getTime() + ms);
const sighting = (overrides: Partial<DeviceSighting>): DeviceSighting => ({
  userId: alice,
  deviceToken: undefined,
  userAgent: CHROME_131,
  ip: "198.51.100.7",
  now: T0,
  ...overrides,
});
const recognise = (s: DeviceSighting) => database.db.transaction((tx) => recogniseDevice(tx, s));

describe("recogniseDevice", () => {
  test("records a browser without a device token as a new device, storing only the hash", async () => {
    const first = await recognise(sighting({}));
    expect(first.isNew).toBe(true);
    expect(first.deviceId).toStartWith("dev_");
    expect(first.deviceToken).toMatch(/^[a-z2-7]{52}$/);
    const rows = await database.rawSql(
      `select token_hash from devices where id = '${first.deviceId}'`,
    );
    expect(rows).toEqual([{ token_hash: hashToken(first.deviceToken) }]);
  });

  test("recognises the same browser by its token and updates when and where it was seen", async () => {
    const first = await recognise(sighting({}));
    const again = await recognise(
      sighting({ deviceToken: first.deviceToken, ip: "203.0.113.5", now: later(60_000) }),
    );
    expect(again).toEqual({
      deviceId: first.deviceId,
      isNew: false,
      deviceToken: first.deviceToken,
    });
    const listed = (await listDevices(database.db, alice)).find((d) => d.id === first.deviceId);
    expect(listed).toEqual({
      id: first.deviceId,
      userAgent: CHROME_131,
      firstSeenAt: T0,
      lastSeenAt: later(60_000),
      lastIp: "203.0.113.5",
    });
  });

  test("a browser update is the same device; the stored user agent follows it", async () => {
    const first = await recognise(sighting({}));
    const updated = await recognise(
      sighting({ deviceToken: first.deviceToken, userAgent: CHROME_132 }),
    );
    expect(updated.isNew).toBe(false);
    expect(updated.deviceId).toBe(first.deviceId);
    const listed = (await listDevices(database.db, alice)).find((d) => d.id === first.deviceId);
    expect(listed?.userAgent).toBe(CHROME_132);
  });

  test("a token seen with a different browser or OS makes a new device", async () => {
    const first = await recognise(sighting({}));
    const moved = await recognise(
      sighting({ deviceToken: first.deviceToken, userAgent: FIREFOX_WINDOWS }),
    );
    expect(moved.isNew).toBe(true);
    expect(moved.deviceId).not.toBe(first.deviceId);
    expect(moved.deviceToken).not.toBe(first.deviceToken);
  });

  test("never matches another user's token, and answers as if there were none", async () => {
    const bobs = await recognise(sighting({ userId: bob }));
    const viaBobsToken = await recognise(sighting({ deviceToken: bobs.deviceToken }));
    const noToken = await recognise(sighting({}));
    expect(viaBobsToken.isNew).toBe(true);
    expect(viaBobsToken.deviceId).not.toBe(bobs.deviceId);
    expect(viaBobsToken.deviceToken).not.toBe(bobs.deviceToken);
    expect(Object.keys(viaBobsToken)).toEqual(Object.keys(noToken));
    // Bob's device is untouched and still his.
    const bobsList = await listDevices(database.db, bob);
    expect(bobsList.map((d) => d.id)).toEqual([bobs.deviceId]);
    expect(bobsList[0]?.lastSeenAt).toEqual(T0);
  });

  test("treats a malformed or unknown token as none", async () => {
    for (const deviceToken of ["", "not a token", "a".repeat(10_000), "a".repeat(52)]) {
      const result = await recognise(sighting({ deviceToken }));
      expect(result.isNew).toBe(true);
    }
  });
});

describe("userAgentFamily", () => {
  test("drops versions of the browser and the OS, and nothing else", () => {
    expect(userAgentFamily(CHROME_131)).toBe(userAgentFamily(CHROME_132));
    expect(userAgentFamily("Mozilla/5.0 (Windows NT 6.1) Firefox/115.0")).toBe(
      userAgentFamily("Mozilla/5.0 (Windows NT 10.0) Firefox/133.0"),
    );
    expect(userAgentFamily(CHROME_131)).not.toBe(userAgentFamily(FIREFOX_WINDOWS));
    expect(userAgentFamily(undefined)).toBe("");
  });
});

describe("listDevices and forgetDevice", () => {
  test("lists a user's devices newest first, and only theirs", async () => {
    const carol = "usr_carol";
    await database.db.insert(users).values({
      id: carol,
      email: "carol@example.com",
      passwordHash: "x",
    });
    const older = await recognise(sighting({ userId: carol, now: later(-60_000) }));
    const newer = await recognise(sighting({ userId: carol, userAgent: FIREFOX_WINDOWS }));
    const listed = await listDevices(database.db, carol);
    expect(listed.map((d) => d.id)).toEqual([newer.deviceId, older.deviceId]);
    expect(Object.keys(listed[0] ?? {}).sort()).toEqual(
      ["firstSeenAt", "id", "lastIp", "lastSeenAt", "userAgent"],
    );
  });

  test("forgets the user's own device, after which its token is a stranger", async () => {
    const device = await recognise(sighting({}));
    const forgotten = await database.db.transaction((tx) =>
      forgetDevice(tx, alice, device.deviceId)
    );
    expect(forgotten).toBe(true);
    expect((await listDevices(database.db, alice)).map((d) => d.id)).not.toContain(device.deviceId);
    expect((await recognise(sighting({ deviceToken: device.deviceToken }))).isNew).toBe(true);
  });

  test("refuses to forget another user's device", async () => {
    const bobs = await recognise(sighting({ userId: bob }));
    const result = await database.db.transaction((tx) => forgetDevice(tx, alice, bobs.deviceId));
    expect(result).toBe(false);
    expect((await listDevices(database.db, bob)).map((d) => d.id)).toContain(bobs.deviceId);
    expect(await database.db.transaction((tx) => forgetDevice(tx, alice, "dev_nope"))).toBe(false);
  });
});

describe("describeUserAgent", () => {
  const samples: [string, string][] = [
    [CHROME_131, "Chrome 131 on Linux"],
    [FIREFOX_WINDOWS, "Firefox 133 on Windows"],
    [
      "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
      "Safari 17 on macOS",
    ],
    [
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
      "Safari 17 on iOS",
    ],
    [
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86",
      "Edge 131 on Windows",
    ],
    [
      "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
      "Chrome 131 on Android",
    ],
    [
      "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
      "Chrome 131 on ChromeOS",
    ],
    [
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/116.0.0.0",
      "Opera 116 on Windows",
    ],
    ["curl/8.5.0", "curl"],
    ["Wget/1.21.4", "Wget"],
    ["python-requests/2.32.3", "python-requests"],
    ["", "Unknown browser"],
    ["Mozilla/5.0 (X11; Linux x86_64)", "Unknown browser on Linux"],
    ["!!!", "Unknown browser"],
  ];
  for (const [ua, label] of samples) {
    test(`labels ${label}`, () => {
      expect(describeUserAgent(ua)).toBe(label);
    });
  }
  test("labels a missing user agent", () => {
    expect(describeUserAgent(undefined)).toBe("Unknown browser");
    expect(describeUserAgent(null)).toBe("Unknown browser");
  });
});
