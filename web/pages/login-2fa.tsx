/** @jsxImportSource hono/jsx */
import {
  Button,
  type FieldProblems,
  type FlashMessage,
  FormField,
  problemOf,
} from "../components.tsx";
import { Layout } from "../layout.tsx";

function Carried(props: { mfaToken: string; next?: string }) {
  return (
    <>
      {/* The password step's proof: single-use, bound to this user, dead after 5 minutes. */}
      <input type="hidden" name="mfaToken" value={props.mfaToken} />
      {props.next && <input type="hidden" name="next" value={props.next} />}
    </>
  );
}

/**
 * The second sign-in step: a code from the authenticator app, or a backup code. Two forms, the
 * backup one inside <details>, so switching between them needs no script.
 */
export function MfaPage(props: {
  mfaToken: string;
  next?: string;
  /** Which form the last attempt used, so its error shows and its form is open. */
  method?: "code" | "backupCode";
  errors?: FieldProblems;
  flash?: FlashMessage[];
}) {
  const backup = props.method === "backupCode";
  return (
    <Layout title="Two-factor authentication" flash={props.flash}>
      <div class="page-heading">
        <h1>Two-factor authentication</h1>
      </div>
      <div class="panel narrow">
        <form method="post" action="/login/2fa">
          <Carried mfaToken={props.mfaToken} next={props.next} />
          <FormField
            label="Authentication code"
            name="code"
            hint="The 6-digit code your authenticator app shows for Caddis."
            error={backup ? undefined : problemOf(props.errors, "code", "The code")}
            autocomplete="one-time-code"
            inputmode="numeric"
            maxlength={20}
            required
            autofocus={!backup}
          />
          <Button>Verify</Button>
        </form>
        <details class="alternative" open={backup}>
          <summary>Use a backup code instead</summary>
          <form method="post" action="/login/2fa">
            <Carried mfaToken={props.mfaToken} next={props.next} />
            <FormField
              label="Backup code"
              name="backupCode"
              hint="One of the codes you saved when you turned on two-factor authentication. Each works once."
              error={backup ? problemOf(props.errors, "backupCode", "The backup code") : undefined}
              autocomplete="off"
              maxlength={40}
              required
              autofocus={backup}
            />
            <Button variant="secondary">Verify backup code</Button>
          </form>
        </details>
      </div>
    </Layout>
  );
}
