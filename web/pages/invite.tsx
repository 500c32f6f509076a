/** @jsxImportSource hono/jsx */
import type { InvitationPreview } from "../../api/services/invitation-inputs.ts";
import {
  Button,
  CurrentPasswordField,
  type FieldProblems,
  NewPasswordField,
  UsernameHint,
} from "../components.tsx";
import { Layout } from "../layout.tsx";

/**
 * The page behind an invitation link: who is invited where, and the one password it needs (a
 * new one with a repeat for a new account, the account's own otherwise). Joining signs no one in.
 */
export function InvitePage(props: {
  token: string;
  preview: InvitationPreview;
  errors?: FieldProblems;
  /** A problem that belongs to no single field (too many attempts, say). */
  error?: string;
}) {
  const { preview, errors } = props;
  const title = `Join ${preview.tenantName}`;
  return (
    <Layout title={title} flash={props.error ? [{ kind: "error", text: props.error }] : []}>
      <div class="page-heading">
        <h1>{title}</h1>
      </div>
      <form class="panel narrow" method="post" action="/invite">
        <p>
          You are invited to the organisation <strong>{preview.tenantName}</strong> as{" "}
          <strong>{preview.email}</strong>. {preview.accountExists
            ? "You already have an account with this email: confirm it is yours with its password."
            : "Choose a password for your new account."}
        </p>
        {/* The one-time token travels back with the form; it is already in this page's URL. */}
        <input type="hidden" name="token" value={props.token} />
        <UsernameHint email={preview.email} />
        {preview.accountExists
          ? (
            <CurrentPasswordField
              label="Your current password"
              name="password"
              errors={errors}
              autofocus
            />
          )
          : (
            <>
              <NewPasswordField label="Password" name="password" errors={errors} autofocus />
              <NewPasswordField
                label="Repeat the password"
                name="confirmPassword"
                errors={errors}
                hint="The same password again, so a typo does not lock you out."
              />
            </>
          )}
        <p class="muted">
          Joining does not sign you in: afterwards, sign in as usual
          {preview.accountExists ? ", with your second factor if you use one." : "."}
        </p>
        <Button>Join {preview.tenantName}</Button>
      </form>
    </Layout>
  );
}
