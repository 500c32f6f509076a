/** @jsxImportSource hono/jsx */
import { Button, type FieldProblems, FormField, problemOf, UsernameHint } from "../components.tsx";

/** Changing one's password: the current one, then the new one; fields are never refilled. */
export function PasswordSection(props: { email: string; errors?: FieldProblems }) {
  const { errors } = props;
  return (
    <section class="section" aria-labelledby="password-heading">
      <h2 id="password-heading">Password</h2>
      <form method="post" action="/account/password">
        <UsernameHint email={props.email} />
        <FormField
          label="Current password"
          name="currentPassword"
          type="password"
          error={problemOf(errors, "currentPassword", "Password")}
          autocomplete="current-password"
          required
        />
        <FormField
          label="New password"
          name="newPassword"
          type="password"
          hint="At least 12 characters. Your other sessions are signed out when it changes."
          error={problemOf(errors, "newPassword", "New password")}
          autocomplete="new-password"
          required
        />
        <Button>Change password</Button>
      </form>
    </section>
  );
}
