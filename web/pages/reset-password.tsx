/** @jsxImportSource hono/jsx */
import { Button, type FieldProblems, NewPasswordField } from "../components.tsx";
import { Layout } from "../layout.tsx";

/** The form behind an admin-issued reset link: a new password, nothing else. */
export function ResetPasswordPage(props: { token: string; errors?: FieldProblems }) {
  return (
    <Layout title="Choose a new password">
      <div class="page-heading">
        <h1>Choose a new password</h1>
      </div>
      <form class="panel narrow" method="post" action="/reset-password">
        <p>
          This link works once, for an hour. Afterwards you sign in with the new password (and your
          second factor, if you use one); every other session is signed out.
        </p>
        {/* The one-time token travels back with the form; it is already in this page's URL. */}
        <input type="hidden" name="token" value={props.token} />
        <NewPasswordField label="New password" name="newPassword" errors={props.errors} autofocus />
        <Button>Set password</Button>
      </form>
    </Layout>
  );
}
