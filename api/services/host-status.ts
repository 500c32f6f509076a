// Whether a host is up and converged, worked out from its row alone, so the list, the detail
// page and the JSON API all say the same thing.
import type { SectionReport } from "../../agent/protocol/desired-state.ts";
import { TIMING } from "../../agent/protocol/version.ts";

/** Where a host stands: never enrolled, connected and heard from lately, silent, or revoked. */
export type HostStatus = "pending" | "online" | "offline" | "revoked";

/** The columns the status depends on. */
export interface HostLiveness {
  revokedAt: Date | null;
  enrolledAt: Date | null;
  connectedReplica: string | null;
  lastSeenAt: Date | null;
}

/**
 * Online means a replica holds the host's socket and has heard from it within the peer timeout:
 * a replica that died without clearing `connectedReplica` leaves the host offline after that.
 */
export function hostStatus(host: HostLiveness, now: Date): HostStatus {
  if (host.revokedAt) return "revoked";
  if (!host.enrolledAt) return "pending";
  if (!host.connectedReplica || !host.lastSeenAt) return "offline";
  const silentMs = now.getTime() - host.lastSeenAt.getTime();
  return silentMs <= TIMING.peerTimeoutMs ? "online" : "offline";
}

/** The columns drift depends on, with the sections of the last observed report. */
export interface HostConvergence {
  enrolledAt: Date | null;
  desiredRevision: number;
  observedRevision: number | null;
  sections: Record<string, SectionReport>;
}

/**
 * A host drifts when its last report answers an older revision than the one it should run (or
 * there is no report yet), or a section says it failed or still differs. Unenrolled hosts run
 * nothing, so they cannot drift.
 */
export function hostDrift(host: HostConvergence): boolean {
  if (!host.enrolledAt) return false;
  if (host.observedRevision === null || host.observedRevision < host.desiredRevision) return true;
  return Object.values(host.sections).some((section) => !section.ok || section.drift.length > 0);
}
