// What an agent reports about its sites: each one's status, live port and last error are stored
// on the site, and a site that turns `failed` raises an alert (resolved once it runs again). An
// agent can only ever report on its own host's sites: anything else it names is ignored.
import { and, eq, inArray } from "drizzle-orm";
import type { ObservedSite } from "../../agent/protocol/sites.ts";
import { sites } from "../../db/schema.ts";
import type { AppDeps } from "../deps.ts";
import type { HostRef } from "./agent-commands.ts";
import { raiseHostAlert, resolveHostAlert } from "./host-alerts.ts";

/** Stores the reported statuses that changed; raises or resolves the sites' failure alerts. */
export async function recordSiteStatuses(
  deps: AppDeps,
  host: HostRef,
  reported: ObservedSite[],
): Promise<void> {
  if (reported.length === 0) return;
  const now = deps.now();
  const changed = await deps.database.db.transaction(async (tx) => {
    const stored = await tx.select({
      id: sites.id,
      domain: sites.domain,
      status: sites.status,
      lastError: sites.lastError,
      livePort: sites.livePort,
    }).from(sites)
      .where(and(eq(sites.hostId, host.id), inArray(sites.id, reported.map((site) => site.id))))
      .for("update");
    const byId = new Map(stored.map((row) => [row.id, row]));
    const updates = reported.flatMap((site) => {
      const before = byId.get(site.id);
      if (!before) return [];
      const same = before.status === site.status && before.lastError === site.lastError &&
        before.livePort === site.port;
      return same ? [] : [{ site, before }];
    });
    for (const { site } of updates) {
      await tx.update(sites).set({
        status: site.status,
        lastError: site.lastError,
        livePort: site.port,
        statusAt: now,
      }).where(eq(sites.id, site.id));
    }
    return updates;
  });
  for (const { site, before } of changed) {
    if (site.status === "failed" && before.status !== "failed") {
      const why = site.lastError ? `: ${site.lastError.slice(0, 500)}` : "";
      await raiseHostAlert(
        deps,
        host,
        "site_failed",
        `Site "${before.domain}" on host "${host.name}" failed${why}`,
        site.id,
      );
    } else if (site.status !== "failed" && before.status === "failed") {
      await resolveHostAlert(deps, host, "site_failed", site.id);
    }
  }
}
