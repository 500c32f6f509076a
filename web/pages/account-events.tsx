/** @jsxImportSource hono/jsx */
import type { SecurityEvent } from "../../api/services/security-events.ts";
import { Badge, Table, Time } from "../components.tsx";

/** Recent sign-ins and account changes, so a user notices what they did not do themselves. */
export function SecurityEventsSection(props: { events: SecurityEvent[] }) {
  return (
    <section class="section" id="security-events" aria-labelledby="security-events-heading">
      <h2 id="security-events-heading">Recent security events</h2>
      <Table
        caption="Recent security events, newest first"
        headers={["Time", "Event", "IP address", "Browser"]}
        rows={props.events.map((event) => [
          <Time at={event.occurredAt} />,
          <>
            {event.label}{" "}
            {event.notable && (
              <Badge state={event.outcome === "success" ? "warn" : "error"}>Check</Badge>
            )}
          </>,
          event.ip ?? "unknown",
          <span title={event.userAgent ?? undefined}>{event.device ?? "unknown"}</span>,
        ])}
        empty="No security events yet."
      />
      <p class="field-hint">
        If you see a sign-in you do not recognise, change your password and sign out the other
        sessions.
      </p>
    </section>
  );
}
