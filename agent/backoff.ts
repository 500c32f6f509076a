// Reconnect delays: capped exponential backoff with full jitter, so a fleet of agents that lost
// the API at the same moment does not come back in lockstep.

/** The knobs of the backoff. */
export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
}

/** The agent's policy: 1 s doubling up to 60 s. */
export const RECONNECT_BACKOFF: BackoffPolicy = { baseMs: 1_000, capMs: 60_000 };

/** A connection that lasted this long counts as healthy and resets the backoff. */
export const BACKOFF_RESET_AFTER_MS = 60_000;

/**
 * Delay before reconnect attempt `attempt` (0 for the first retry): uniformly random in
 * [0, min(cap, base · 2^attempt)). `random` returns a number in [0, 1), like Math.random.
 */
export function backoffDelay(
  attempt: number,
  policy: BackoffPolicy = RECONNECT_BACKOFF,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, attempt));
  return Math.floor(Math.min(Math.max(random(), 0), 0.999_999_999) * ceiling);
}
