// Brute-force defence for sign-in, kept in the database so a restart (or a second replica) does
// not hand an attacker a fresh allowance. Every block expires, so a stranger can slow an account
// down but never lock its owner out for good.
import { and, eq, gt, inArray, isNull, lte, max, or, sql } from "drizzle-orm";
import type { Db, Tx } from "../../db/client.ts";
import { loginThrottles } from "../../db/schema.ts";
import { formatIp, parseIp } from "../client-ip.ts";
import { normalizeEmail } from "./passwords.ts";

/** Failures are counted in windows of this length, starting at a key's first failure. */
export const THROTTLE_WINDOW_MS = 15 * 60_000;
/** The failure on one account that starts the delays (the 5th waits FIRST_DELAY_MS). */
export const ACCOUNT_FAILURE_LIMIT = 5;
/** The failure from one IP that starts the delays: higher, since offices share an address. */
export const IP_FAILURE_LIMIT = 30;
/** The delay after the failure that reaches a limit; each further failure doubles it. */
export const FIRST_DELAY_MS = 1_000;
/** The longest delay: blocks always end, so the owner is never locked out for good. */
export const MAX_DELAY_MS = 15 * 60_000;
/** How much of an IPv6 address names one client: a /64 is what one subscriber usually gets. */
export const IPV6_THROTTLE_PREFIX = 64;

/** Whether a sign-in attempt may go ahead now. */
export type ThrottleVerdict = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/** The key counting failures against one account, whether or not such an account exists. */
export function accountThrottleKey(email: string): string {
  return `acct:${normalizeEmail(email)}`;
}

/**
 * The key counting failures from one client address. IPv6 is keyed by its /64: a single host can
 * use any address in its subnet, so per-address counting would not slow it at all.
 */
export function ipThrottleKey(ip: string): string {
  const parsed = parseIp(ip);
  if (!parsed) return `ip:${ip}`;
  if (parsed.version === 4) return `ip:${formatIp(parsed)}`;
  const hostBits = BigInt(128 - IPV6_THROTTLE_PREFIX);
  const network = { version: 6 as const, value: (parsed.value >> hostBits) << hostBits };
  return `ip:${formatIp(network)}/${IPV6_THROTTLE_PREFIX}`;
}

/** The keys a sign-in attempt is checked and counted against; no IP key when it is unknown. */
export function loginThrottleKeys(email: string, ip: string | undefined): string[] {
  return ip ? [accountThrottleKey(email), ipThrottleKey(ip)] : [accountThrottleKey(email)];
}

/** Refuses an attempt while any of its keys is blocked, saying how long to wait. */
export async function checkThrottle(
  db: Db | Tx,
  keys: string[],
  now: Date,
): Promise<ThrottleVerdict> {
  if (keys.length === 0) return { allowed: true };
  const [row] = await db
    .select({ until: max(loginThrottles.blockedUntil) })
    .from(loginThrottles)
    .where(and(inArray(loginThrottles.key, keys), gt(loginThrottles.blockedUntil, now)));
  const until = row?.until;
  if (!until) return { allowed: true };
  return {
    allowed: false,
    retryAfterSeconds: Math.max(1, Math.ceil((until.getTime() - now.getTime()) / 1000)),
  };
}

/** Counts one failed attempt against every key, blocking those past their limit. */
export async function recordLoginFailure(tx: Tx, keys: string[], now: Date): Promise<void> {
  // Always in the same order, so two attempts sharing an IP key cannot deadlock on row locks.
  for (const key of [...new Set(keys)].sort()) await countFailure(tx, key, now);
}

// One statement, so concurrent failures on a key serialise on its row and none is lost.
async function countFailure(tx: Tx, key: string, now: Date): Promise<void> {
  const t = loginThrottles;
  const limit = key.startsWith("ip:") ? IP_FAILURE_LIMIT : ACCOUNT_FAILURE_LIMIT;
  const at = sql`${now.toISOString()}::timestamptz`;
  const windowFrom = new Date(now.getTime() - THROTTLE_WINDOW_MS).toISOString();
  const windowOpen = sql`${t.windowStartedAt} > ${windowFrom}::timestamptz`;
  const failures = sql`(case when ${windowOpen} then ${t.failures} + 1 else 1 end)`;
  // The exponent is capped before power() so a long-running attack cannot overflow it.
  const exponent = sql`least(${failures} - ${limit}::int, 40)`;
  const delayMs = sql`least(${FIRST_DELAY_MS} * power(2, ${exponent}), ${MAX_DELAY_MS})::float8`;
  // greatest() ignores NULL and never shortens a block a concurrent attempt already set.
  const blockedUntil = sql`case when ${failures} >= ${limit}::int
    then greatest(${t.blockedUntil}, ${at} + ${delayMs} * interval '1 millisecond')
    else ${t.blockedUntil} end`;
  await tx
    .insert(t)
    .values({ key, failures: 1, windowStartedAt: now, blockedUntil: null })
    .onConflictDoUpdate({
      target: t.key,
      set: {
        failures,
        windowStartedAt: sql`case when ${windowOpen} then ${t.windowStartedAt} else ${at} end`,
        blockedUntil,
      },
    });
}

/**
 * Checks the keys and counts this attempt as a failure in one short transaction that locks their
 * rows, before the (slow) password check runs. Parallel attempts therefore queue on the rows and
 * each sees the ones before it: a burst cannot slip through between check and count. A sign-in
 * that then succeeds is forgiven with {@link forgiveLoginAttempt}.
 */
export async function reserveLoginAttempt(
  db: Db,
  keys: string[],
  now: Date,
): Promise<ThrottleVerdict> {
  const sorted = [...new Set(keys)].sort();
  return await db.transaction(async (tx) => {
    await tx
      .insert(loginThrottles)
      .values(sorted.map((key) => ({ key, failures: 0, windowStartedAt: now })))
      .onConflictDoNothing();
    await tx
      .select({ key: loginThrottles.key })
      .from(loginThrottles)
      .where(inArray(loginThrottles.key, sorted))
      .orderBy(loginThrottles.key)
      .for("update");
    const verdict = await checkThrottle(tx, sorted, now);
    if (verdict.allowed) await recordLoginFailure(tx, sorted, now);
    return verdict;
  });
}

/**
 * Undoes a reserved attempt that succeeded: the account starts afresh, the IP gets its one
 * attempt back (no more, so owning one account never resets an IP's count).
 */
export async function forgiveLoginAttempt(tx: Tx, keys: string[], now: Date): Promise<void> {
  for (const key of keys) {
    if (key.startsWith("ip:")) {
      await tx
        .update(loginThrottles)
        .set({ failures: sql`greatest(${loginThrottles.failures} - 1, 0)` })
        .where(eq(loginThrottles.key, key));
    } else {
      await clearThrottle(tx, key, now);
    }
  }
}

/** Forgets an account's failures after a successful sign-in. IP keys are left to expire. */
export async function clearThrottle(tx: Tx, key: string, now: Date): Promise<void> {
  // Clearing the IP key too would let an attacker who owns one account reset it at will.
  if (key.startsWith("ip:")) return;
  await tx
    .update(loginThrottles)
    .set({ failures: 0, windowStartedAt: now, blockedUntil: null })
    .where(eq(loginThrottles.key, key));
}

/** Deletes keys whose window and block are both over; returns how many went. Run periodically. */
export async function pruneThrottles(db: Db, now: Date): Promise<number> {
  // Failed sign-ins for made-up emails each leave a row, so without pruning the table only grows.
  const deleted = await db
    .delete(loginThrottles)
    .where(and(
      lte(loginThrottles.windowStartedAt, new Date(now.getTime() - THROTTLE_WINDOW_MS)),
      or(isNull(loginThrottles.blockedUntil), lte(loginThrottles.blockedUntil, now)),
    ))
    .returning({ key: loginThrottles.key });
  return deleted.length;
}
