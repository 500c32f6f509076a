/** @jsxImportSource hono/jsx */
import {
  Button,
  CurrentPasswordField,
  type FieldProblems,
  type FlashMessage,
  FormField,
  problemOf,
} from "../components.tsx";
import { Layout } from "../layout.tsx";

/** The sign-in form. */
export function LoginPage(props: {
  /** Where to go after signing in; already checked by safeNextPath. */
  next?: string;
  email?: string;
  errors?: FieldProblems;
  flash?: FlashMessage[];
  /**
   * Set when a page sent the browser here for want of an access cookie: session.js then tries
   * the refresh cookie once and, if it still works, goes straight back to `next`.
   */
  tryRefresh?: boolean;
}) {
  const { errors } = props;
  const tryRefresh = props.tryRefresh && props.next !== undefined;
  return (
    <Layout title="Sign in" flash={props.flash} scripts={["session.js"]}>
      <div class="page-heading">
        <h1>Sign in</h1>
      </div>
      <form
        class="panel narrow"
        method="post"
        action="/login"
        data-try-refresh={tryRefresh ? "" : undefined}
        data-next={tryRefresh ? props.next : undefined}
      >
        {props.next && <input type="hidden" name="next" value={props.next} />}
        <FormField
          label="Email"
          name="email"
          type="email"
          value={props.email}
          error={problemOf(errors, "email", "Email")}
          autocomplete="username"
          required
          autofocus={!props.email}
        />
        {/* Never filled back in, even after a failed attempt. */}
        <CurrentPasswordField
          label="Password"
          name="password"
          errors={errors}
          autofocus={!!props.email}
        />
        <Button>Sign in</Button>
      </form>
    </Layout>
  );
}
