/** @jsxImportSource hono/jsx */
import type { AssignableRole, MemberView } from "../../api/services/member-list.ts";
import { Badge, Button, type FlashMessage, Table } from "../components.tsx";
import { Layout } from "../layout.tsx";
import type { PageUser } from "../page-user.ts";

/** Checkboxes a refused form sent, shown again instead of the stored roles (nothing is lost). */
export interface RolesDraft {
  userId: string;
  roleIds: string[];
}

function RoleBadges(props: { member: MemberView }) {
  if (props.member.roles.length === 0) return <span class="muted">no roles</span>;
  return (
    <>
      {props.member.roles.map((role) => (
        <>
          <Badge state={role.roleId === "role_owner" ? "warn" : "ok"}>
            {role.siteId ? `${role.roleName} on ${role.siteId}` : role.roleName}
          </Badge>
          {" "}
        </>
      ))}
    </>
  );
}

/** The tenant-wide role checkboxes for one member; site-scoped roles are kept as they are. */
function RolesForm(props: { member: MemberView; roles: AssignableRole[]; draft?: RolesDraft }) {
  const { member } = props;
  const path = `/members/${encodeURIComponent(member.userId)}`;
  const held = new Set(
    props.draft?.userId === member.userId
      ? props.draft.roleIds
      : member.roles.filter((r) => r.siteId === null).map((r) => r.roleId),
  );
  return (
    <>
      <form method="post" action={`${path}/roles`}>
        <fieldset class="role-choices">
          <legend>Roles of {member.email}</legend>
          {props.roles.map((role) => (
            <label class="checkbox">
              <input type="checkbox" name="roleId" value={role.id} checked={held.has(role.id)} />
              {" "}
              {role.name}
            </label>
          ))}
        </fieldset>
        <Button variant="secondary" label={`Save roles of ${member.email}`}>Save roles</Button>
      </form>
      <form class="inline-form" method="post" action={`${path}/remove`}>
        <Button variant="danger" label={`Remove ${member.email} from this organisation`}>
          Remove…
        </Button>
      </form>
    </>
  );
}

/** `/members`: who belongs to the organisation; `users.manage` holders can change roles. */
export function MembersPage(props: {
  user: PageUser | undefined;
  members: MemberView[];
  /** Set for holders of `users.manage`: the roles they may hand out. */
  assignable?: AssignableRole[];
  draft?: RolesDraft;
  flash?: FlashMessage[];
}) {
  const { assignable } = props;
  const headers = ["Email", "2FA", "Roles", ...(assignable ? ["Change"] : [])];
  return (
    <Layout title="Members" current="members" user={props.user} flash={props.flash}>
      <div class="page-heading">
        <h1>Members</h1>
        {assignable && <a href="/invitations">Invite someone</a>}
      </div>
      <section class="section" aria-labelledby="members-heading">
        <h2 id="members-heading">People in this organisation</h2>
        <Table
          caption="Members"
          headers={headers}
          rows={props.members.map((member) => [
            <>
              {member.email} {member.disabled && <Badge state="error">disabled</Badge>}
            </>,
            member.totpEnabled ? <Badge state="ok">on</Badge> : <Badge state="warn">off</Badge>,
            <RoleBadges member={member} />,
            ...(assignable
              ? [<RolesForm member={member} roles={assignable} draft={props.draft} />]
              : []),
          ])}
          empty="Nobody belongs to this organisation yet."
        />
        {assignable && (
          <p class="muted">
            Roles limited to one site are kept when you save; you can only grant what you hold.
          </p>
        )}
      </section>
    </Layout>
  );
}

/** The second step of removing someone: says what goes with them, and asks once more. */
export function RemoveMemberPage(props: {
  user: PageUser | undefined;
  userId: string;
  /** The member's email, or "this member" for someone who may not list members. */
  label: string;
}) {
  return (
    <Layout title="Remove member" current="members" user={props.user}>
      <div class="page-heading">
        <h1>Remove {props.label}?</h1>
      </div>
      <div class="panel">
        <p>
          They lose every role in this organisation, and their API tokens here stop working. Their
          account stays, as do their memberships elsewhere.
        </p>
        <form method="post" action={`/members/${encodeURIComponent(props.userId)}/remove`}>
          <input type="hidden" name="confirm" value="yes" />
          <div class="form-actions">
            <Button variant="danger">Remove {props.label}</Button>
            <a href="/members">Cancel</a>
          </div>
        </form>
      </div>
    </Layout>
  );
}
