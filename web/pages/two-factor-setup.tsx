/** @jsxImportSource hono/jsx */
import { raw } from "hono/html";
import { Button, type FieldProblems, FormField, problemOf } from "../components.tsx";
import { Layout } from "../layout.tsx";
import type { PageUser } from "../page-user.ts";

/** "ABCD EFGH …": the base32 key in groups of four, easier to type; apps ignore the spaces. */
function groupsOfFour(key: string): string {
  return key.match(/.{1,4}/g)?.join(" ") ?? key;
}

/**
 * Enrolling an authenticator app: the QR code and manual key of a new secret, then a first code
 * to confirm it. After a wrong code the secret is not shown again (this page is the answer to a
 * POST and the server keeps it only encrypted); the app already has it, or the user starts over.
 */
export function TotpSetupPage(props: {
  user: PageUser;
  /** Shown only on the first rendering, straight from beginTotpSetup. */
  enrolment?: { manualKey: string; qrSvg: string };
  errors?: FieldProblems;
}) {
  const { enrolment } = props;
  return (
    <Layout title="Set up two-factor authentication" current="account" user={props.user}>
      <div class="page-heading">
        <h1>Set up two-factor authentication</h1>
      </div>
      <div class="panel narrow">
        {enrolment
          ? (
            <>
              <p>Scan this code with your authenticator app, or type the key in by hand.</p>
              {
                /* raw() only for this SVG: renderQrSvg builds it from numbers alone (one rect, one
                  path, no text from input, no style or script), so it cannot carry markup. */
              }
              <div class="qr">{raw(enrolment.qrSvg)}</div>
              <p>
                Key:{" "}
                <code class="manual-key" id="totp-key">{groupsOfFour(enrolment.manualKey)}</code>
              </p>
            </>
          )
          : (
            <p>
              Enter the current code from the entry you just added to your authenticator app. If you
              did not add it, start over for a new key.
            </p>
          )}
        <form method="post" action="/account/2fa/enable">
          <FormField
            label="Code from the app"
            name="code"
            error={problemOf(props.errors, "code", "The code")}
            autocomplete="one-time-code"
            inputmode="numeric"
            maxlength={20}
            required
            autofocus
          />
          <Button>Turn on two-factor authentication</Button>
        </form>
        <div class="form-actions">
          {!enrolment && (
            <form method="post" action="/account/2fa/setup">
              <Button variant="secondary">Start over with a new key</Button>
            </form>
          )}
          <a href="/account">Cancel</a>
        </div>
      </div>
    </Layout>
  );
}

/** The 10 backup codes, shown this once, after enabling 2FA or regenerating them. */
export function BackupCodesPage(
  props: { user: PageUser; codes: string[]; enabled: boolean },
) {
  return (
    <Layout
      title="Save your backup codes"
      current="account"
      user={props.user}
      flash={[{
        kind: "success",
        text: props.enabled
          ? "Two-factor authentication is on."
          : "New backup codes generated; the old ones no longer work.",
      }]}
    >
      <div class="page-heading">
        <h1>Save your backup codes</h1>
      </div>
      <div class="panel narrow">
        <p>
          Each code signs you in once if you lose your authenticator app. Store them somewhere safe,
          such as a password manager: <strong>they are shown only this once</strong>.
        </p>
        <ol class="backup-codes" id="backup-codes">
          {props.codes.map((code) => (
            <li>
              <code>{code}</code>
            </li>
          ))}
        </ol>
        <p>
          <a href="/account">I have saved these codes</a>
        </p>
      </div>
    </Layout>
  );
}
