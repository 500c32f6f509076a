// Recognising the browsers a user signs in from, so a sign-in from a new one can be audited and
// shown. The browser keeps a random device token in a long-lived cookie (set by the web layer);
// the database keeps only its SHA-256, so a leaked table cannot be replayed as cookies.
import { and, desc, eq } from "drizzle-orm";
import type { Db, Tx } from "../../db/client.ts";
import { newId } from "../../db/ids.ts";
import { devices } from "../../db/schema.ts";
import { hashToken, randomSecret } from "./tokens.ts";

// Longer user agents are truncated for storage, as sessions do; nothing real comes close.
const USER_AGENT_MAX = 512;
// randomSecret(32) gives 52 base32 characters; anything else is not one of ours.
const DEVICE_TOKEN_SHAPE = /^[a-z2-7]{52}$/;

/** What a sign-in presents about the browser it comes from. */
export interface DeviceSighting {
  userId: string;
  /** The device cookie's value, if the browser sent one. */
  deviceToken: string | undefined;
  userAgent: string | undefined;
  ip: string | undefined;
  now: Date;
}

/** A device as the account page lists it. */
export interface DeviceSummary {
  id: string;
  userAgent: string | null;
  firstSeenAt: Date;
  lastSeenAt: Date;
  lastIp: string | null;
}

/**
 * Matches a sign-in to one of the user's known devices, or records a new one with a fresh token
 * (which the caller puts in the cookie). A token of another user's device is treated exactly like
 * no token, so a sign-in learns nothing about other accounts.
 */
export async function recogniseDevice(
  tx: Tx,
  sighting: DeviceSighting,
): Promise<{ deviceId: string; isNew: boolean; deviceToken: string }> {
  const { userId, deviceToken, ip, now } = sighting;
  const userAgent = sighting.userAgent?.slice(0, USER_AGENT_MAX) ?? null;
  if (deviceToken && DEVICE_TOKEN_SHAPE.test(deviceToken)) {
    // Lookup by the hash's unique index: the token has 256 bits, so timing reveals nothing useful.
    const [known] = await tx
      .select({ id: devices.id, userId: devices.userId, userAgent: devices.userAgent })
      .from(devices)
      .where(eq(devices.tokenHash, hashToken(deviceToken)))
      .for("update");
    if (
      known && known.userId === userId &&
      userAgentFamily(known.userAgent) === userAgentFamily(userAgent)
    ) {
      await tx
        .update(devices)
        // The exact user agent is kept current so the account page shows today's version.
        .set({ lastSeenAt: now, lastIp: ip ?? null, userAgent })
        .where(eq(devices.id, known.id));
      return { deviceId: known.id, isNew: false, deviceToken };
    }
  }
  const fresh = randomSecret(32);
  const deviceId = newId("dev");
  await tx.insert(devices).values({
    id: deviceId,
    userId,
    tokenHash: hashToken(fresh),
    userAgent,
    firstSeenAt: now,
    lastSeenAt: now,
    lastIp: ip ?? null,
  });
  return { deviceId, isNew: true, deviceToken: fresh };
}

/**
 * The user agent with every version number removed: the same browser on the same OS. Browsers
 * update themselves every few weeks, and counting each update as a new device would bury the
 * alerts that matter; the token is the identity, this only notices a cookie carried elsewhere.
 */
export function userAgentFamily(userAgent: string | null | undefined): string {
  return (userAgent ?? "").replace(/\d+(?:[._]\d+)*/g, "").replace(/\s+/g, " ").trim();
}

/** A user's devices, newest first. */
export async function listDevices(db: Db | Tx, userId: string): Promise<DeviceSummary[]> {
  return await db
    .select({
      id: devices.id,
      userAgent: devices.userAgent,
      firstSeenAt: devices.firstSeenAt,
      lastSeenAt: devices.lastSeenAt,
      lastIp: devices.lastIp,
    })
    .from(devices)
    .where(eq(devices.userId, userId))
    .orderBy(desc(devices.firstSeenAt), desc(devices.id));
}

/** Forgets one of the user's devices; false when the user has no device with that id. */
export async function forgetDevice(tx: Tx, userId: string, deviceId: string): Promise<boolean> {
  const deleted = await tx
    .delete(devices)
    .where(and(eq(devices.id, deviceId), eq(devices.userId, userId)))
    .returning({ id: devices.id });
  return deleted.length > 0;
}

const BROWSERS: [RegExp, string][] = [
  // Order matters: Edge, Opera and Samsung also say "Chrome", Chrome also says "Safari".
  [/\bEdg(?:e|A|iOS)?\/(\d+)/, "Edge"],
  [/\b(?:OPR|Opera)\/(\d+)/, "Opera"],
  [/\bSamsungBrowser\/(\d+)/, "Samsung Internet"],
  [/\b(?:Firefox|FxiOS)\/(\d+)/, "Firefox"],
  [/\b(?:Chrome|CriOS)\/(\d+)/, "Chrome"],
  [/\bVersion\/(\d+)[\d.]* (?:Mobile\/\S+ )?Safari\//, "Safari"],
];

const SYSTEMS: [RegExp, string][] = [
  // Android and ChromeOS before Linux, iOS before macOS: their user agents name both.
  [/\bAndroid\b/, "Android"],
  [/\bCrOS\b/, "ChromeOS"],
  [/\b(?:iPhone|iPad|iPod)\b/, "iOS"],
  [/\bWindows\b/, "Windows"],
  [/\bMac OS X\b|\bMacintosh\b/, "macOS"],
  [/\bLinux\b/, "Linux"],
];

/** A short label for a user agent, such as "Chrome 131 on Linux" or "curl". */
export function describeUserAgent(userAgent: string | null | undefined): string {
  const ua = userAgent?.trim() ?? "";
  if (ua === "") return "Unknown browser";
  const system = SYSTEMS.find(([pattern]) => pattern.test(ua))?.[1];
  for (const [pattern, name] of BROWSERS) {
    const version = pattern.exec(ua)?.[1];
    if (version) return system ? `${name} ${version} on ${system}` : `${name} ${version}`;
  }
  // Tools (curl, Wget, python-requests, Go-http-client) lead with their own product name.
  const product = /^([A-Za-z][\w.-]{0,39})\//.exec(ua)?.[1];
  if (product && product !== "Mozilla") return product;
  return system ? `Unknown browser on ${system}` : "Unknown browser";
}
