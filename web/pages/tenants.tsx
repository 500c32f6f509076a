/** @jsxImportSource hono/jsx */
import type { TenantView } from "../../api/services/tenants.ts";
import {
  Badge,
  Button,
  type FieldProblems,
  type FlashMessage,
  FormField,
  problemOf,
  Table,
  Time,
} from "../components.tsx";
import { Layout } from "../layout.tsx";
import type { PageUser } from "../page-user.ts";

/** One tenant on the page, with what the viewer may do about it. */
export interface TenantRow extends TenantView {
  /** The tenant the panel acts in now. */
  active: boolean;
  /** Whether the viewer holds `tenants.update` there (may change its 2FA requirement). */
  canUpdate: boolean;
}

function SwitchForm(props: { tenant: TenantRow }) {
  return (
    <form class="inline-form" method="post" action="/tenants/switch">
      <input type="hidden" name="tenantId" value={props.tenant.id} />
      <input type="hidden" name="next" value="/tenants" />
      <Button variant="secondary" label={`Switch to ${props.tenant.name}`}>Switch</Button>
    </form>
  );
}

function TwoFactorForm(props: { tenant: TenantRow }) {
  const { tenant } = props;
  const text = tenant.require2fa ? "Stop requiring 2FA" : "Require 2FA";
  return (
    <form
      class="inline-form"
      method="post"
      action={`/tenants/${encodeURIComponent(tenant.id)}/two-factor`}
    >
      <input type="hidden" name="require2fa" value={tenant.require2fa ? "false" : "true"} />
      <Button
        variant={tenant.require2fa ? "danger" : "secondary"}
        label={`${text} in ${tenant.name}`}
      >
        {text}
      </Button>
    </form>
  );
}

function CreateSection(props: { errors: FieldProblems; name?: string }) {
  return (
    <section class="section narrow" id="create-tenant" aria-labelledby="create-tenant-heading">
      <h2 id="create-tenant-heading">New tenant</h2>
      <p class="muted">You become its owner; invite its members afterwards.</p>
      <form method="post" action="/tenants">
        <FormField
          label="Name"
          name="name"
          value={props.name}
          error={problemOf(props.errors, "name", "Name")}
          required
          maxlength={100}
        />
        <div class="form-actions">
          <Button>Create tenant</Button>
        </div>
      </form>
    </section>
  );
}

/**
 * The organisations the user belongs to (a superuser: all): which one the panel acts in, a switch
 * to each, their 2FA requirement with a toggle for `tenants.update` holders, and for superusers a
 * form to create one.
 */
export function TenantsPage(props: {
  user: PageUser;
  tenants: TenantRow[];
  createErrors?: FieldProblems;
  createName?: string;
  flash?: FlashMessage[];
}) {
  return (
    <Layout title="Tenants" current="tenants" user={props.user} flash={props.flash}>
      <div class="page-heading">
        <h1>Tenants</h1>
      </div>
      <section class="section" id="tenants" aria-labelledby="tenants-heading">
        <h2 id="tenants-heading">Your organisations</h2>
        <Table
          caption="Tenants"
          headers={["Name", "Created", "Two-factor", "Actions"]}
          rows={props.tenants.map((tenant) => [
            <>
              {tenant.name} {tenant.active && <Badge state="ok">Active</Badge>}
            </>,
            <Time at={tenant.createdAt} />,
            tenant.require2fa
              ? <Badge state="ok">Required</Badge>
              : <span class="muted">Optional</span>,
            <span class="row-actions">
              {!tenant.active && <SwitchForm tenant={tenant} />}
              {tenant.canUpdate && <TwoFactorForm tenant={tenant} />}
            </span>,
          ])}
          empty="You are not a member of any organisation yet."
        />
      </section>
      {props.user.isSuperuser && (
        <CreateSection errors={props.createErrors} name={props.createName} />
      )}
    </Layout>
  );
}
