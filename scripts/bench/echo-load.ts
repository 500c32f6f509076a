// The round-trip baseline of the agent benchmark: clients of the bare WebSocket echo server
// (ws-echo-server.ts) timing each message until it comes back, either paced at a fixed rate (like
// the command load) or each client sending its next message as soon as the last one returned.
import { type Latency, latencyOf } from "./latency.ts";

/** Round trips measured against the echo server. */
export interface EchoResult {
  latency: Latency;
  /** Messages that came back per second. */
  perSecond: number;
  /** Messages sent that never came back before the end. */
  lost: number;
}

// About the size of a `command` frame for host.diagnose, so both loads move similar bytes.
const PADDING = "x".repeat(480);
const DRAIN_MS = 2_000;

/** Waits until `at` (performance.now() time); returns at once when it has passed. */
export async function sleepUntil(at: number): Promise<void> {
  const wait = at - performance.now();
  if (wait > 0) await Bun.sleep(wait);
}

function openClient(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url);
  return new Promise((resolve, reject) => {
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error(`could not open ${url}`));
  });
}

/**
 * Runs `clients` sockets against `wsUrl` for `seconds`: paced at `rate` messages per second over
 * all clients, or with `rate` null each client ping-ponging as fast as it can.
 */
export async function echoRoundTrips(
  wsUrl: string,
  clients: number,
  seconds: number,
  rate: number | null,
): Promise<EchoResult> {
  const sockets = await Promise.all(Array.from({ length: clients }, () => openClient(wsUrl)));
  const sentAt = new Map<number, number>();
  const samples: number[] = [];
  let next = 0;
  let sending = true;
  const send = (ws: WebSocket) => {
    const id = next++;
    sentAt.set(id, performance.now());
    ws.send(JSON.stringify({ type: "echo", id, padding: PADDING }));
  };
  for (const ws of sockets) {
    ws.onmessage = (event) => {
      const now = performance.now();
      const { id } = JSON.parse(String(event.data)) as { id: number };
      const started = sentAt.get(id);
      if (started === undefined) return;
      sentAt.delete(id);
      samples.push(now - started);
      if (rate === null && sending) send(ws);
    };
  }
  const started = performance.now();
  const end = started + seconds * 1000;
  if (rate === null) {
    for (const ws of sockets) send(ws);
    await sleepUntil(end);
  } else {
    for (let i = 0; performance.now() < end; i++) {
      await sleepUntil(started + (i * 1000) / rate);
      send(sockets[i % clients] as WebSocket);
    }
  }
  sending = false;
  const elapsed = (performance.now() - started) / 1000;
  const drainUntil = performance.now() + DRAIN_MS;
  while (sentAt.size > 0 && performance.now() < drainUntil) await Bun.sleep(10);
  for (const ws of sockets) ws.close();
  return { latency: latencyOf(samples), perSecond: samples.length / elapsed, lost: sentAt.size };
}
