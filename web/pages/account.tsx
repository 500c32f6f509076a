/** @jsxImportSource hono/jsx */
import type { DeviceView } from "./account-sessions.tsx";
import type { SessionView } from "../../api/services/auth-sessions.ts";
import type { SecurityEvent } from "../../api/services/security-events.ts";
import type { FieldProblems, FlashMessage } from "../components.tsx";
import { Layout } from "../layout.tsx";
import type { PageUser } from "../page-user.ts";
import { TwoFactorSection } from "./account-2fa.tsx";
import { SecurityEventsSection } from "./account-events.tsx";
import { PasswordSection } from "./account-password.tsx";
import { DevicesSection, SessionsSection } from "./account-sessions.tsx";

/** Everything the account page shows about the signed-in user. */
export interface AccountData {
  twoFactor: { enabled: boolean; backupCodesRemaining: number };
  sessions: SessionView[];
  devices: DeviceView[];
  events: SecurityEvent[];
}

/** Problems to show beside the fields of the form that was just posted. */
export interface AccountErrors {
  password?: FieldProblems;
  regenerate?: FieldProblems;
  disable?: FieldProblems;
}

/** The account page: password, two-factor, sessions, devices and recent security events. */
export function AccountPage(props: {
  user: PageUser;
  data: AccountData;
  errors?: AccountErrors;
  flash?: FlashMessage[];
}) {
  const { data, errors } = props;
  return (
    <Layout title="Account" current="account" user={props.user} flash={props.flash}>
      <div class="page-heading">
        <h1>Account</h1>
        <span class="muted">{props.user.email}</span>
      </div>
      <PasswordSection email={props.user.email} errors={errors?.password} />
      <TwoFactorSection
        email={props.user.email}
        enabled={data.twoFactor.enabled}
        backupCodesRemaining={data.twoFactor.backupCodesRemaining}
        regenerateErrors={errors?.regenerate}
        disableErrors={errors?.disable}
      />
      <SessionsSection sessions={data.sessions} />
      <DevicesSection devices={data.devices} />
      <section class="section" aria-labelledby="api-tokens-heading">
        <h2 id="api-tokens-heading">API tokens</h2>
        <p>
          Personal tokens let scripts call the API as you, in one organisation, with the permissions
          you choose: <a href="/account/tokens">API tokens</a>
        </p>
      </section>
      <SecurityEventsSection events={data.events} />
    </Layout>
  );
}
