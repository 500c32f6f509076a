// The periodic sweep over all hosts: commands that can no longer run end as expired, and hosts
// that went quiet raise an offline alert. Every replica may run it; each step is idempotent.
import type { AppDeps } from "../deps.ts";
import { expireOverdueCommands } from "./agent-command-delivery.ts";
import { sweepOfflineHosts } from "./host-alerts.ts";

const INTERVAL_MS = 15_000;

/** Runs one sweep; returns what it changed. */
export async function runHostMonitor(
  deps: AppDeps,
): Promise<{ expiredCommands: number; offlineAlerts: number }> {
  const expiredCommands = await expireOverdueCommands(deps);
  const offlineAlerts = await sweepOfflineHosts(deps);
  return { expiredCommands, offlineAlerts };
}

/**
 * Sweeps every 15 s (the interval is for tests) and returns a function that stops it. Failures
 * are logged and retried on the next tick; a tick is skipped while the previous one still runs.
 */
export function startHostMonitor(deps: AppDeps, intervalMs = INTERVAL_MS): () => void {
  let running = false;
  const tick = async () => {
    if (running) return;
    running = true;
    try {
      const changed = await runHostMonitor(deps);
      if (changed.expiredCommands > 0 || changed.offlineAlerts > 0) {
        deps.log.info(changed, "host monitor sweep");
      }
    } catch (err) {
      deps.log.error({ err }, "host monitor sweep failed; retrying on the next tick");
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), intervalMs);
  return () => clearInterval(timer);
}
