/** One counter to bump: one client's requests in one group during one fixed window. */
export interface RateLimitCounter {
  /** Unique per client, group and window length; the window start completes the identity. */
  key: string;
  windowStart: Date;
  windowSeconds: number;
}

/** Where request counts live: this process's memory, or PostgreSQL shared by replicas. */
export interface RateLimitStore {
  /** Adds one to each counter and returns the new counts, in the order given. */
  hit(counters: readonly RateLimitCounter[], now: Date): Promise<number[]>;
}

// Expired windows are dropped at most this often, so sweeping costs nothing per request.
const SWEEP_INTERVAL_MS = 60_000;

/** Counts in a Map: right for a single instance; every replica would count on its own. */
export function memoryRateLimitStore(): RateLimitStore {
  const counts = new Map<string, { count: number; expiresAt: number }>();
  let lastSweep = 0;
  return {
    hit(counters, now) {
      const at = now.getTime();
      if (at - lastSweep >= SWEEP_INTERVAL_MS) {
        lastSweep = at;
        for (const [id, entry] of counts) if (entry.expiresAt <= at) counts.delete(id);
      }
      return Promise.resolve(counters.map((counter) => {
        const start = counter.windowStart.getTime();
        const id = `${counter.key}@${start}`;
        const entry = counts.get(id) ??
          { count: 0, expiresAt: start + counter.windowSeconds * 1000 };
        entry.count += 1;
        counts.set(id, entry);
        return entry.count;
      }));
    },
  };
}
