/** @jsxImportSource hono/jsx */
import {
  Button,
  type FieldProblems,
  FormField,
  NewPasswordField,
  problemOf,
} from "../components.tsx";
import { Layout } from "../layout.tsx";

/** The first-run form: the first superuser's email and password, and the first tenant's name. */
export function SetupPage(props: {
  token: string;
  email?: string;
  tenantName?: string;
  errors?: FieldProblems;
  /** A problem that belongs to no single field. */
  error?: string;
}) {
  const { errors } = props;
  return (
    <Layout title="Set up Caddis" flash={props.error ? [{ kind: "error", text: props.error }] : []}>
      <div class="page-heading">
        <h1>Set up Caddis</h1>
      </div>
      <form class="panel narrow" method="post" action="/setup">
        <p>
          Create the first administrator account. This link works once; Caddis prints a new one when
          it restarts before setup is done.
        </p>
        {/* The one-time token travels back with the form; it is already in this page's URL. */}
        <input type="hidden" name="token" value={props.token} />
        <FormField
          label="Email"
          name="email"
          type="email"
          value={props.email}
          error={problemOf(errors, "email", "Email")}
          autocomplete="username"
          required
          autofocus
        />
        <NewPasswordField label="Password" name="password" errors={errors} />
        <FormField
          label="Organisation name"
          name="tenantName"
          value={props.tenantName}
          hint="The first tenant; sites and hosts belong to a tenant."
          error={problemOf(errors, "tenantName", "Organisation name")}
          autocomplete="organization"
          required
        />
        <Button>Create account</Button>
      </form>
    </Layout>
  );
}
