/** @jsxImportSource hono/jsx */
import { type Permission, PERMISSIONS } from "../../api/auth/permissions.ts";
import type { TokenView } from "../../api/services/api-tokens.ts";
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

/** The lifetimes the form offers, in days. */
export const EXPIRY_CHOICES = [7, 30, 90, 365] as const;

/** What the create form holds, as typed: kept when the form comes back with problems. */
export interface TokenFormValues {
  name: string;
  permissions: string[];
  expiresInDays: string;
  /** One address or CIDR range per line. */
  ipAllowlist: string;
}

/** An empty form: 30 days, no permissions ticked. */
export const EMPTY_TOKEN_FORM: TokenFormValues = {
  name: "",
  permissions: [],
  expiresInDays: "30",
  ipAllowlist: "",
};

function TokenState(props: { token: TokenView }) {
  if (props.token.revokedAt) return <Badge state="error">Revoked</Badge>;
  if (props.token.expired) return <Badge state="warn">Expired</Badge>;
  return <Badge state="ok">Active</Badge>;
}

function LastUsed(props: { token: TokenView }) {
  const { lastUsedAt, lastUsedIp } = props.token;
  if (!lastUsedAt) return <span class="muted">Never</span>;
  return (
    <>
      <Time at={lastUsedAt} /> from {lastUsedIp ?? "an unknown address"}
    </>
  );
}

/** The secret of the token just created: shown in this response only, never stored in clear. */
function NewSecret(props: { name: string; secret: string }) {
  return (
    <section class="section" id="new-token" aria-labelledby="new-token-heading">
      <h2 id="new-token-heading">Token "{props.name}" created</h2>
      <p role="alert">
        Copy this token now: it is shown only this once. Caddis keeps only a hash of it, so it
        cannot be shown again; if you lose it, revoke it and create another.
      </p>
      <div class="field">
        <label for="new-token-secret">Your new API token</label>
        <input id="new-token-secret" type="text" value={props.secret} readonly autocomplete="off" />
      </div>
      <p class="field-hint">
        Send it as <code>Authorization: Bearer cdt_…</code> to the API.
      </p>
    </section>
  );
}

function TokensTable(props: { tokens: TokenView[]; tenantNames: ReadonlyMap<string, string> }) {
  return (
    <section class="section" id="tokens" aria-labelledby="tokens-heading">
      <h2 id="tokens-heading">Your tokens</h2>
      <Table
        caption="Your API tokens"
        headers={[
          "Name",
          "Organisation",
          "Permissions",
          "Expires",
          "Last used",
          "State",
          "Actions",
        ]}
        rows={props.tokens.map((token) => [
          token.name,
          props.tenantNames.get(token.tenantId) ?? token.tenantId,
          token.permissions.join(", "),
          <Time at={token.expiresAt} />,
          <LastUsed token={token} />,
          <TokenState token={token} />,
          token.revokedAt || token.expired ? "" : (
            <form
              class="inline-form"
              method="post"
              action={`/account/tokens/${encodeURIComponent(token.id)}/revoke`}
            >
              <Button variant="danger" label={`Revoke ${token.name}`}>Revoke</Button>
            </form>
          ),
        ])}
        empty="No API tokens yet."
      />
    </section>
  );
}

function PermissionChoices(
  props: { grantable: Permission[]; values: TokenFormValues; error?: string },
) {
  return (
    <fieldset aria-describedby={props.error ? "permissions-error" : undefined}>
      <legend>Permissions</legend>
      <p class="field-hint">
        Only what you hold in this organisation now; the token also loses anything you lose later.
      </p>
      {props.grantable.map((permission) => (
        <div>
          <label>
            <input
              type="checkbox"
              name="permissions"
              value={permission}
              checked={props.values.permissions.includes(permission)}
            />{" "}
            <code>{permission}</code> <span class="muted">{PERMISSIONS[permission]}</span>
          </label>
        </div>
      ))}
      {props.error && <p id="permissions-error" class="field-error">{props.error}</p>}
    </fieldset>
  );
}

function CreateTokenForm(props: {
  tenantName?: string;
  grantable: Permission[];
  values: TokenFormValues;
  errors?: FieldProblems;
}) {
  const { values, errors } = props;
  if (!props.tenantName) {
    return <p>You are not a member of any organisation, so there is nothing a token could do.</p>;
  }
  const expiryError = problemOf(errors, "expiresInDays", "Expiry");
  const allowlistError = problemOf(errors, "ipAllowlist", "IP allowlist");
  return (
    <form method="post" action="/account/tokens">
      <p>
        The token acts in{" "}
        <strong>{props.tenantName}</strong>, as you, with at most the permissions ticked below.
      </p>
      <FormField
        label="Name"
        name="name"
        value={values.name}
        error={problemOf(errors, "name", "Name")}
        hint="What the token is for, such as the CI job that uses it."
        maxlength={100}
        required
      />
      <PermissionChoices
        grantable={props.grantable}
        values={values}
        error={problemOf(errors, "permissions", "Permissions")}
      />
      <div class={expiryError ? "field field-invalid" : "field"}>
        <label for="field-expiresInDays">Expires after</label>
        <select id="field-expiresInDays" name="expiresInDays">
          {EXPIRY_CHOICES.map((days) => (
            <option value={String(days)} selected={values.expiresInDays === String(days)}>
              {days} days
            </option>
          ))}
        </select>
        {expiryError && <p class="field-error">{expiryError}</p>}
      </div>
      <div class={allowlistError ? "field field-invalid" : "field"}>
        <label for="field-ipAllowlist">IP allowlist (optional)</label>
        <textarea
          id="field-ipAllowlist"
          name="ipAllowlist"
          rows={3}
          aria-describedby="field-ipAllowlist-hint"
          aria-invalid={allowlistError ? "true" : undefined}
        >
          {values.ipAllowlist}
        </textarea>
        <p id="field-ipAllowlist-hint" class="field-hint">
          One address or CIDR range per line, such as 203.0.113.0/24 or 2001:db8::/32; empty means
          any address.
        </p>
        {allowlistError && <p class="field-error">{allowlistError}</p>}
      </div>
      <Button>Create token</Button>
    </form>
  );
}

/** `/account/tokens`: the user's personal API tokens, the form for a new one, its secret once. */
export function AccountTokensPage(props: {
  user: PageUser;
  tokens: TokenView[];
  tenantNames: ReadonlyMap<string, string>;
  /** The active tenant's name; undefined when the user belongs to none. */
  tenantName?: string;
  grantable: Permission[];
  values: TokenFormValues;
  errors?: FieldProblems;
  flash?: FlashMessage[];
  created?: { name: string; secret: string };
}) {
  return (
    <Layout title="API tokens" current="account" user={props.user} flash={props.flash}>
      <div class="page-heading">
        <h1>API tokens</h1>
        <a href="/account">Back to your account</a>
      </div>
      {props.created && <NewSecret {...props.created} />}
      <TokensTable tokens={props.tokens} tenantNames={props.tenantNames} />
      <section class="section" aria-labelledby="create-token-heading">
        <h2 id="create-token-heading">Create a token</h2>
        <CreateTokenForm
          tenantName={props.tenantName}
          grantable={props.grantable}
          values={props.values}
          errors={props.errors}
        />
      </section>
    </Layout>
  );
}
