/** @jsxImportSource hono/jsx */
import {
  Button,
  CurrentPasswordField,
  type FieldProblems,
  NewPasswordField,
  UsernameHint,
} from "../components.tsx";

/** Changing one's password: the current one, then the new one; fields are never refilled. */
export function PasswordSection(props: { email: string; errors?: FieldProblems }) {
  const { errors } = props;
  return (
    <section class="section" aria-labelledby="password-heading">
      <h2 id="password-heading">Password</h2>
      <form method="post" action="/account/password">
        <UsernameHint email={props.email} />
        <CurrentPasswordField label="Current password" name="currentPassword" errors={errors} />
        <NewPasswordField
          label="New password"
          name="newPassword"
          errors={errors}
          hint="At least 12 characters. Your other sessions are signed out when it changes."
        />
        <Button>Change password</Button>
      </form>
    </section>
  );
}
