// Every host event on both channels, in the order heard, for tests that watch what a change
// announces: wake-ups for the replica holding a socket, and command endings for waiters.
import type { Database } from "../../db/client.ts";
import {
  COMMAND_DONE_CHANNEL,
  HOST_EVENTS_CHANNEL,
  type HostEvent,
  listenHostEvents,
} from "../../api/services/host-events.ts";

/** Starts recording; `stop` ends both subscriptions. A malformed notice fails the test run. */
export async function recordHostEvents(
  database: Database,
): Promise<{ events: HostEvent[]; stop: () => Promise<void> }> {
  const events: HostEvent[] = [];
  const malformed = (payload: string) => {
    throw new Error(`a malformed host event: ${payload}`);
  };
  const stops = await Promise.all(
    ([HOST_EVENTS_CHANNEL, COMMAND_DONE_CHANNEL] as const).map((channel) =>
      listenHostEvents(database, channel, (event) => events.push(event), malformed)
    ),
  );
  return { events, stop: async () => void await Promise.all(stops.map((stop) => stop())) };
}
