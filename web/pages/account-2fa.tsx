/** @jsxImportSource hono/jsx */
import {
  Badge,
  Button,
  CurrentPasswordField,
  type FieldProblems,
  FormField,
  problemOf,
  UsernameHint,
} from "../components.tsx";

/** The two-factor section of the account page: start setup, or manage codes and turn it off. */
export function TwoFactorSection(props: {
  email: string;
  enabled: boolean;
  backupCodesRemaining: number;
  regenerateErrors?: FieldProblems;
  disableErrors?: FieldProblems;
}) {
  return (
    <section class="section" id="two-factor" aria-labelledby="two-factor-heading">
      <h2 id="two-factor-heading">
        Two-factor authentication{" "}
        {props.enabled ? <Badge state="ok">On</Badge> : <Badge state="warn">Off</Badge>}
      </h2>
      {props.enabled ? <TwoFactorOn {...props} /> : (
        <form method="post" action="/account/2fa/setup">
          <p>
            Sign-ins will also ask for a code from an authenticator app, so a leaked password alone
            is not enough.
          </p>
          <Button>Set up two-factor authentication</Button>
        </form>
      )}
    </section>
  );
}

function TwoFactorOn(props: {
  email: string;
  backupCodesRemaining: number;
  regenerateErrors?: FieldProblems;
  disableErrors?: FieldProblems;
}) {
  const remaining = props.backupCodesRemaining;
  return (
    <>
      <p>
        {remaining} backup code{remaining === 1 ? "" : "s"} left.{" "}
        {remaining <= 3 && "Generate new ones before you run out."}
      </p>
      <form method="post" action="/account/2fa/backup-codes" class="subsection">
        <UsernameHint email={props.email} />
        <h3>New backup codes</h3>
        <p>The old codes stop working and 10 new ones are shown once.</p>
        <CurrentPasswordField
          label="Password"
          name="password"
          id="field-regenerate-password"
          errors={props.regenerateErrors}
        />
        <Button variant="secondary">Generate new backup codes</Button>
      </form>
      <form method="post" action="/account/2fa/disable" class="subsection">
        <UsernameHint email={props.email} />
        <h3>Turn off two-factor authentication</h3>
        <CurrentPasswordField
          label="Password"
          name="password"
          id="field-disable-password"
          errors={props.disableErrors}
        />
        <FormField
          label="Authentication code"
          name="code"
          id="field-disable-code"
          error={problemOf(props.disableErrors, "code", "The code")}
          autocomplete="one-time-code"
          inputmode="numeric"
          maxlength={20}
          required
        />
        <Button variant="danger">Turn off two-factor authentication</Button>
      </form>
    </>
  );
}
