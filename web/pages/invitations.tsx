/** @jsxImportSource hono/jsx */
import type { PendingInvitationView } from "../../api/services/invitation-inputs.ts";
import type { AssignableRole } from "../../api/services/member-list.ts";
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

/** What the invite form shows again after a refusal. */
export interface InviteFormValues {
  email?: string;
  roles?: string[];
}

/** A link just created: shown on this one rendering only, since only its hash is kept. */
export interface CreatedInvitation {
  email: string;
  link: string;
  expiresAt: string;
}

function CreatedLink(props: { created: CreatedInvitation }) {
  const { created } = props;
  return (
    <section class="section section-notice" aria-labelledby="link-heading">
      <h2 id="link-heading">Invitation link for {created.email}</h2>
      <div class="field">
        <label for="invitation-link">Link</label>
        <input id="invitation-link" type="text" value={created.link} readonly />
        <p class="field-hint">
          Send this link to {created.email} yourself. It is shown only now, works once, and expires
          {" "}
          <Time at={created.expiresAt} />.
        </p>
      </div>
    </section>
  );
}

function InviteForm(
  props: { roles: AssignableRole[]; values?: InviteFormValues; errors?: FieldProblems },
) {
  const { errors } = props;
  const chosen = new Set(props.values?.roles ?? []);
  const rolesError = problemOf(errors, "roles", "Roles");
  return (
    <section class="section" aria-labelledby="invite-heading">
      <h2 id="invite-heading">Invite someone</h2>
      <form method="post" action="/invitations">
        <FormField
          label="Email"
          name="email"
          type="email"
          value={props.values?.email}
          error={problemOf(errors, "email", "Email")}
          autocomplete="off"
          required
        />
        <fieldset
          class={rolesError ? "field field-invalid" : "field"}
          aria-describedby={rolesError ? "roles-error" : undefined}
        >
          <legend>Roles</legend>
          {props.roles.map((role) => (
            <label>
              <input type="checkbox" name="roles" value={role.id} checked={chosen.has(role.id)} />
              {" "}
              <strong>{role.name}</strong>
              {role.description && <span class="muted">: {role.description}</span>}
            </label>
          ))}
          {rolesError && <p id="roles-error" class="field-error">{rolesError}</p>}
        </fieldset>
        <Button>Create invitation link</Button>
      </form>
    </section>
  );
}

function PendingList(props: { pending: PendingInvitationView[]; roles: AssignableRole[] }) {
  const names = new Map(props.roles.map((role) => [role.id, role.name]));
  const rows = props.pending.map((invitation) => [
    invitation.email,
    invitation.roles.map((id) => names.get(id) ?? id).join(", "),
    <Time at={invitation.createdAt} />,
    invitation.expired ? <Badge state="warn">Expired</Badge> : <Time at={invitation.expiresAt} />,
    <form class="inline-form" method="post" action={`/invitations/${invitation.id}/revoke`}>
      <Button variant="danger" label={`Revoke the invitation for ${invitation.email}`}>
        Revoke
      </Button>
    </form>,
  ]);
  return (
    <section class="section" aria-labelledby="pending-heading">
      <h2 id="pending-heading">Pending invitations</h2>
      <Table
        caption="Invitations not yet accepted"
        headers={["Email", "Roles", "Created", "Expires", ""]}
        rows={rows}
        empty="No pending invitations."
      />
    </section>
  );
}

/** The organisation's invitations: the invite form, a link just created, and the pending list. */
export function InvitationsPage(props: {
  user?: PageUser;
  roles: AssignableRole[];
  pending: PendingInvitationView[];
  values?: InviteFormValues;
  errors?: FieldProblems;
  created?: CreatedInvitation;
  flash?: FlashMessage[];
}) {
  return (
    <Layout title="Invitations" user={props.user} flash={props.flash}>
      <div class="page-heading">
        <h1>Invitations</h1>
      </div>
      {props.created && <CreatedLink created={props.created} />}
      <InviteForm roles={props.roles} values={props.values} errors={props.errors} />
      <PendingList pending={props.pending} roles={props.roles} />
    </Layout>
  );
}
