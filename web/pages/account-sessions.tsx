/** @jsxImportSource hono/jsx */
import type { listOwnDevices } from "../../api/services/account.ts";
import type { SessionView } from "../../api/services/auth-sessions.ts";
import { Badge, Button, Table, Time } from "../components.tsx";

/**
 * A one-button form that works as a plain POST and, with htmx, swaps the section it sits in for
 * the fragment the same endpoint returns.
 */
function SectionAction(props: {
  action: string;
  target: string;
  variant: "secondary" | "danger";
  label?: string;
  text: string;
}) {
  return (
    <form
      class="inline-form"
      method="post"
      action={props.action}
      hx-post={props.action}
      hx-target={props.target}
      hx-swap="outerHTML"
    >
      <Button variant={props.variant} label={props.label}>{props.text}</Button>
    </form>
  );
}

function Notice(props: { text?: string }) {
  return props.text ? <p class="section-notice" role="status">{props.text}</p> : null;
}

/** Where the user is signed in, with a sign-out per other session and one for all of them. */
export function SessionsSection(props: { sessions: SessionView[]; notice?: string }) {
  const others = props.sessions.filter((s) => !s.current).length;
  return (
    <section class="section" id="sessions" aria-labelledby="sessions-heading">
      <h2 id="sessions-heading">Sessions</h2>
      <Notice text={props.notice} />
      <Table
        caption="Signed-in sessions"
        headers={["Device", "IP address", "Signed in", "Last active", "Actions"]}
        rows={props.sessions.map((session) => [
          <>
            {session.device} {session.current && <Badge state="ok">This session</Badge>}
          </>,
          session.ip ?? "unknown",
          <Time at={session.createdAt} />,
          <Time at={session.lastSeenAt} />,
          session.current ? "" : (
            <SectionAction
              action={`/account/sessions/${encodeURIComponent(session.id)}/revoke`}
              target="#sessions"
              variant="secondary"
              label={`Sign out ${session.device} from ${session.ip ?? "unknown address"}`}
              text="Sign out"
            />
          ),
        ])}
        empty="No active sessions."
      />
      {others > 0 && (
        <SectionAction
          action="/account/sessions/revoke-others"
          target="#sessions"
          variant="danger"
          text="Sign out everywhere else"
        />
      )}
    </section>
  );
}

/** One known device as listOwnDevices describes it. */
export type DeviceView = Awaited<ReturnType<typeof listOwnDevices>>[number];

/** The browsers this account has signed in from; forgetting one makes its next sign-in "new". */
export function DevicesSection(props: { devices: DeviceView[]; notice?: string }) {
  return (
    <section class="section" id="devices" aria-labelledby="devices-heading">
      <h2 id="devices-heading">Devices</h2>
      <Notice text={props.notice} />
      <Table
        caption="Known devices"
        headers={["Browser", "First seen", "Last seen", "Last IP address", "Actions"]}
        rows={props.devices.map((device) => [
          device.browser,
          <Time at={device.firstSeenAt} />,
          <Time at={device.lastSeenAt} />,
          device.lastIp ?? "unknown",
          <SectionAction
            action={`/account/devices/${encodeURIComponent(device.id)}/forget`}
            target="#devices"
            variant="secondary"
            label={`Forget ${device.browser}`}
            text="Forget"
          />,
        ])}
        empty="No devices yet."
      />
    </section>
  );
}
