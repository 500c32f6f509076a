// A test-only tap on the API's own agent sockets, so a test can push any frame down the live,
// authenticated connection as a compromised or buggy API would, without a seam in the hub.
import type { WSContext, WSEvents } from "hono/ws";
import type { ServerFrame } from "../../agent/protocol/frames.ts";
import { encodeFrame } from "../../agent/protocol/parse-frame.ts";
import type { AgentHub } from "../../api/hub/agent-hub.ts";

/** Raw access to the sockets a hub accepts from now on. */
export interface SocketTap {
  /**
   * Writes `frame` on the socket of `hostId` (the newest one whose challenge answer claimed it
   * and that the hub holds for it); false when there is none.
   */
  send(hostId: string, frame: ServerFrame): boolean;
}

/**
 * Wraps `hub.accept` (the app reads it on every upgrade) to remember each socket by the host id
 * its `auth` frame names. Only a socket the hub then holds for that host is written to.
 */
export function tapAgentSockets(hub: AgentHub): SocketTap {
  const byHost = new Map<string, WSContext>();
  const accept = hub.accept.bind(hub);
  hub.accept = (peer) => {
    const events: WSEvents = accept(peer);
    return {
      ...events,
      onMessage(event, ws) {
        const claimed = claimedHost(event.data);
        if (claimed) byHost.set(claimed, ws);
        events.onMessage?.(event, ws);
      },
    };
  };
  return {
    send(hostId, frame) {
      const ws = byHost.get(hostId);
      if (!ws || ws.readyState !== 1 || !hub.isConnected(hostId)) return false;
      ws.send(encodeFrame(frame));
      return true;
    },
  };
}

function claimedHost(data: unknown): string | undefined {
  if (typeof data !== "string") return undefined;
  try {
    const frame = JSON.parse(data) as { type?: unknown; hostId?: unknown };
    return frame.type === "auth" && typeof frame.hostId === "string" ? frame.hostId : undefined;
  } catch {
    return undefined;
  }
}
