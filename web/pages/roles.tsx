/** @jsxImportSource hono/jsx */
import { ALL_PERMISSIONS, type Permission, PERMISSIONS } from "../../api/auth/permissions.ts";
import type { RoleView } from "../../api/services/roles.ts";
import {
  Badge,
  Button,
  type FieldProblems,
  type FlashMessage,
  FormField,
  problemOf,
  Table,
} from "../components.tsx";
import { Layout } from "../layout.tsx";
import type { PageUser } from "../page-user.ts";

/** What the role form holds, as typed (sent back unchanged when something is wrong). */
export interface RoleFormValues {
  name: string;
  description: string;
  parentId: string;
  permissions: string[];
}

/** An empty role form. */
export const EMPTY_ROLE_FORM: RoleFormValues = {
  name: "",
  description: "",
  parentId: "",
  permissions: [],
};

// Grouped by the resource before the dot, in catalogue order: "sites", "deployments", …
const BY_RESOURCE: [string, Permission[]][] = [
  ...new Set(ALL_PERMISSIONS.map((p) => p.split(".")[0] ?? p)),
].map((resource) => [resource, ALL_PERMISSIONS.filter((p) => p.startsWith(`${resource}.`))]);

function PermissionList(props: { role: RoleView }) {
  const direct = new Set(props.role.permissions);
  if (props.role.effectivePermissions.length === 0) return <span class="muted">none</span>;
  return (
    <ul class="permission-list">
      {props.role.effectivePermissions.map((p) => (
        <li>
          <code>{p}</code>
          {!direct.has(p) && <span class="muted">(inherited)</span>}
        </li>
      ))}
    </ul>
  );
}

/** Every role the tenant has, with what each grants once inheritance is followed. */
function RolesTable(props: { roles: RoleView[] }) {
  const names = new Map(props.roles.map((r) => [r.id, r.name]));
  return (
    <Table
      caption="Roles"
      headers={["Role", "Description", "Inherits from", "Permissions", "Members"]}
      rows={props.roles.map((role) => [
        <>
          <a href={`/roles/${encodeURIComponent(role.id)}`}>{role.name}</a>{" "}
          {role.builtIn && <Badge state="ok">built-in</Badge>}
        </>,
        role.description,
        role.parentId ? names.get(role.parentId) ?? role.parentId : "",
        <PermissionList role={role} />,
        String(role.memberCount),
      ])}
    />
  );
}

/** The fields of the create and edit forms: name, description, parent, permission checkboxes. */
function RoleFields(props: {
  values: RoleFormValues;
  problems: FieldProblems;
  roles: RoleView[];
  /** The role being edited, which cannot be its own parent. */
  selfId?: string;
}) {
  const { values, problems } = props;
  const checked = new Set(values.permissions);
  const parentProblem = problemOf(problems, "parentId", "Inherits from");
  const permissionsProblem = problemOf(problems, "permissions", "Permissions");
  return (
    <>
      <FormField
        label="Name"
        name="name"
        value={values.name}
        required
        maxlength={50}
        hint="Letters, digits, spaces, - and _."
        error={problemOf(problems, "name", "Name")}
      />
      <FormField
        label="Description"
        name="description"
        value={values.description}
        maxlength={500}
        error={problemOf(problems, "description", "Description")}
      />
      <div class={parentProblem ? "field field-invalid" : "field"}>
        <label for="field-parentId">Inherits from</label>
        <select id="field-parentId" name="parentId">
          <option value="" selected={values.parentId === ""}>Nothing</option>
          {props.roles.filter((r) => r.id !== props.selfId).map((r) => (
            <option value={r.id} selected={values.parentId === r.id}>{r.name}</option>
          ))}
        </select>
        {parentProblem && <p class="field-error">{parentProblem}</p>}
      </div>
      {permissionsProblem && <p class="field-error">{permissionsProblem}</p>}
      {BY_RESOURCE.map(([resource, permissions]) => (
        <fieldset class="permission-group">
          <legend>{resource}</legend>
          {permissions.map((p) => (
            <label class="checkbox">
              <input type="checkbox" name="permissions" value={p} checked={checked.has(p)} />{" "}
              <code>{p}</code> <span class="muted">{PERMISSIONS[p]}</span>
            </label>
          ))}
        </fieldset>
      ))}
    </>
  );
}

/** `/roles`: the roles, and for holders of `roles.manage` a form to create one. */
export function RolesPage(props: {
  user: PageUser | undefined;
  roles: RoleView[];
  canManage: boolean;
  values: RoleFormValues;
  problems?: FieldProblems;
  flash?: FlashMessage[];
}) {
  return (
    <Layout title="Roles" current="roles" user={props.user} flash={props.flash}>
      <div class="page-heading">
        <h1>Roles</h1>
      </div>
      <section class="section" aria-labelledby="roles-heading">
        <h2 id="roles-heading">Roles in this organisation</h2>
        <RolesTable roles={props.roles} />
      </section>
      {props.canManage && (
        <section class="section" aria-labelledby="create-heading">
          <h2 id="create-heading">Create a role</h2>
          <p class="muted">
            A role can only grant permissions you hold yourself, including those it inherits.
          </p>
          <form method="post" action="/roles">
            <RoleFields values={props.values} problems={props.problems} roles={props.roles} />
            <div class="form-actions">
              <Button>Create role</Button>
            </div>
          </form>
        </section>
      )}
    </Layout>
  );
}

/** `/roles/:id`: one role; custom roles can be changed or deleted by `roles.manage` holders. */
export function RolePage(props: {
  user: PageUser | undefined;
  role: RoleView;
  roles: RoleView[];
  canManage: boolean;
  values: RoleFormValues;
  problems?: FieldProblems;
  flash?: FlashMessage[];
}) {
  const { role } = props;
  const path = `/roles/${encodeURIComponent(role.id)}`;
  const parent = props.roles.find((r) => r.id === role.parentId);
  return (
    <Layout title={`Role ${role.name}`} current="roles" user={props.user} flash={props.flash}>
      <div class="page-heading">
        <h1>Role {role.name}</h1>
        <a href="/roles">All roles</a>
      </div>
      <section class="section" aria-labelledby="grants-heading">
        <h2 id="grants-heading">What it grants</h2>
        <dl class="facts">
          <dt>Description</dt>
          <dd>{role.description || "—"}</dd>
          <dt>Inherits from</dt>
          <dd>{parent?.name ?? "nothing"}</dd>
          <dt>Members holding it</dt>
          <dd>{String(role.memberCount)}</dd>
          <dt>Permissions</dt>
          <dd>
            <PermissionList role={role} />
          </dd>
        </dl>
        {role.builtIn && <p class="muted">Built-in roles cannot be changed.</p>}
      </section>
      {props.canManage && !role.builtIn && (
        <>
          <section class="section" aria-labelledby="edit-heading">
            <h2 id="edit-heading">Change it</h2>
            <form method="post" action={path}>
              <RoleFields
                values={props.values}
                problems={props.problems}
                roles={props.roles}
                selfId={role.id}
              />
              <div class="form-actions">
                <Button>Save changes</Button>
              </div>
            </form>
          </section>
          <section class="section" aria-labelledby="delete-heading">
            <h2 id="delete-heading">Delete it</h2>
            <p>Only a role nobody holds and no other role inherits from can be deleted.</p>
            <form method="post" action={`${path}/delete`}>
              <Button variant="danger">Delete role "{role.name}"</Button>
            </form>
          </section>
        </>
      )}
    </Layout>
  );
}
