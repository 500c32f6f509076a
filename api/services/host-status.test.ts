import { describe, expect, test } from "bun:test";
import { TIMING } from "../../agent/protocol/version.ts";
import { hostDrift, type HostLiveness, hostStatus } from "./host-status.ts";

const NOW = new Date("2030-01-01T12:00:00.000Z");
const ago = (ms: number) => new Date(NOW.getTime() - ms);
const ENROLLED: HostLiveness = {
  revokedAt: null,
  enrolledAt: ago(3_600_000),
  connectedReplica: "replica-a",
  lastSeenAt: ago(1_000),
};

describe("hostStatus", () => {
  test("a host never enrolled is pending", () => {
    expect(hostStatus({ ...ENROLLED, enrolledAt: null, lastSeenAt: null }, NOW)).toBe("pending");
  });

  test("connected and heard from within the peer timeout is online, up to the limit", () => {
    expect(hostStatus(ENROLLED, NOW)).toBe("online");
    expect(hostStatus({ ...ENROLLED, lastSeenAt: ago(TIMING.peerTimeoutMs) }, NOW)).toBe("online");
  });

  test("silent past the peer timeout is offline even while a replica claims the socket", () => {
    const silent = { ...ENROLLED, lastSeenAt: ago(TIMING.peerTimeoutMs + 1) };
    expect(hostStatus(silent, NOW)).toBe("offline");
  });

  test("no replica holding the socket is offline however recent the last frame", () => {
    expect(hostStatus({ ...ENROLLED, connectedReplica: null }, NOW)).toBe("offline");
    expect(hostStatus({ ...ENROLLED, lastSeenAt: null }, NOW)).toBe("offline");
  });

  test("revoked wins over everything else", () => {
    expect(hostStatus({ ...ENROLLED, revokedAt: ago(1) }, NOW)).toBe("revoked");
  });
});

describe("hostDrift", () => {
  const converged = {
    enrolledAt: ago(1),
    desiredRevision: 3,
    observedRevision: 3,
    sections: { sites: { ok: true, drift: [], error: null } },
  };

  test("a host that reported the desired revision with every section converged has none", () => {
    expect(hostDrift(converged)).toBe(false);
  });

  test("an older or missing report is drift", () => {
    expect(hostDrift({ ...converged, observedRevision: 2 })).toBe(true);
    expect(hostDrift({ ...converged, observedRevision: null })).toBe(true);
  });

  test("a section that failed or still differs is drift", () => {
    const failed = { ok: false, drift: [], error: "caddy adapt failed" };
    const differs = { ok: true, drift: ["site blog: worker not running"], error: null };
    expect(hostDrift({ ...converged, sections: { sites: failed } })).toBe(true);
    expect(hostDrift({ ...converged, sections: { sites: differs } })).toBe(true);
  });

  test("a host not enrolled yet runs nothing, so it does not drift", () => {
    expect(hostDrift({ ...converged, enrolledAt: null, observedRevision: null })).toBe(false);
  });
});
