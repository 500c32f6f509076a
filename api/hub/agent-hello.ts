// The agent's `hello`: checked for the protocol version, stored, and the host marked connected.
import type { ProtocolErrorCode } from "../../agent/protocol/frames.ts";
import { CLOSE, PROTOCOL_VERSION } from "../../agent/protocol/version.ts";
import type { AppDeps } from "../deps.ts";
import type { HostRef } from "../services/agent-commands.ts";
import { type HelloFrame, recordHello } from "../services/agent-sessions.ts";
import { resolveHostAlert } from "../services/host-alerts.ts";

/** How a refused socket is closed: the close code and reason, after an `error` frame. */
export interface Refusal {
  close: number;
  reason: string;
  error: { code: ProtocolErrorCode; message: string };
}

/**
 * Stores a `hello` and marks the host connected to this replica; returns the refusal instead
 * when the agent speaks another protocol version or the host was revoked meanwhile.
 */
export async function greetAgent(
  deps: AppDeps,
  host: HostRef,
  hello: HelloFrame,
): Promise<Refusal | undefined> {
  if (hello.protocolVersion !== PROTOCOL_VERSION) {
    return {
      close: CLOSE.unsupportedProtocol,
      reason: "unsupported protocol",
      error: {
        code: "unsupported_protocol",
        message: `this API speaks protocol ${PROTOCOL_VERSION}, not ${hello.protocolVersion}`,
      },
    };
  }
  if (!(await recordHello(deps.database.db, host.id, hello, deps.replicaId, deps.now()))) {
    return REVOKED;
  }
  deps.log.info(
    { hostId: host.id, agentVersion: hello.agentVersion, mode: hello.mode },
    "agent hub: agent connected",
  );
  return undefined;
}

/** The refusal of a revoked host's socket. */
export const REVOKED: Refusal = {
  close: CLOSE.revoked,
  reason: "host revoked",
  error: { code: "host_revoked", message: "this host has been revoked" },
};

/** The host is back: its offline alert, if any, is resolved (a failure is only logged). */
export async function markOnline(deps: AppDeps, host: HostRef): Promise<void> {
  try {
    await resolveHostAlert(deps, host, "offline");
  } catch (err) {
    deps.log.error({ err, hostId: host.id }, "agent hub: could not resolve the offline alert");
  }
}
