// How a site's observed status is worked out from its desired state, its worker and what went
// wrong: pure, so each combination is tested directly.
import type { DesiredSite, ObservedSite, SiteStatus } from "../protocol/sites.ts";
import type { WorkerState, WorkerStatus } from "../workers/supervisor-policy.ts";

/** Why the agent could not do what a site needs; a null status leaves the worker's own. */
export interface SiteProblem {
  status: SiteStatus | null;
  error: string;
}

const STATUS_OF: Record<WorkerState, SiteStatus> = {
  starting: "pending",
  restarting: "pending",
  running: "running",
  failed: "failed",
  stopped: "stopped",
};
const MAX_ERROR_CHARS = 8000;
const MAX_DRIFT_CHARS = 1000;

/**
 * One site's status: a disabled site is stopped; a problem that kept it from starting decides;
 * otherwise its worker does. A Caddy error is shown on every enabled site, since none of them is
 * sure to be served as desired; an old crash is not shown once the worker runs again.
 */
export function observeSite(
  site: DesiredSite,
  worker: WorkerStatus | null,
  problem: SiteProblem | undefined,
  caddyError: string | null,
): ObservedSite {
  if (!site.enabled) return { id: site.id, status: "stopped", port: null, lastError: null };
  const status = problem?.status ?? (worker ? STATUS_OF[worker.state] : "pending");
  const running = status === "running";
  const lastError = problem?.error ?? caddyError ?? (running ? null : worker?.lastError ?? null);
  return {
    id: site.id,
    status,
    port: running && worker ? worker.port : null,
    lastError: lastError === null ? null : lastError.slice(0, MAX_ERROR_CHARS),
  };
}

/** The section's drift: one line for each enabled site that is not running. */
export function siteDrift(observed: ObservedSite[], desired: ReadonlyMap<string, DesiredSite>) {
  return observed.filter((site) => desired.get(site.id)?.enabled && site.status !== "running")
    .map((site) => {
      const why = site.lastError?.split("\n")[0] ?? "starting";
      return `site ${site.id} is ${site.status}: ${why}`.slice(0, MAX_DRIFT_CHARS);
    });
}
