/** @jsxImportSource hono/jsx */
import { type Context, Hono } from "hono";
import { type Access, accessOf, publicRoute } from "../../api/auth/route-access.ts";
import type { AppDeps, AppEnv } from "../../api/deps.ts";
import { AppError } from "../../api/errors.ts";
import { auditContextOf } from "../../api/request-context.ts";
import {
  AcceptInvitationInput,
  CreateInvitationInput,
  type InvitationPreview,
} from "../../api/services/invitation-inputs.ts";
import { acceptInvitation, previewInvitation } from "../../api/services/invitation-accept.ts";
import {
  createInvitation,
  INVALID_INVITATION,
  listInvitations,
  revokeInvitation,
} from "../../api/services/invitations.ts";
import { listAssignableRoles } from "../../api/services/member-list.ts";
import type { FieldProblems, FlashMessage } from "../components.tsx";
import { describeWait, type FieldErrors, fieldErrorsOf, parseForm, readForm } from "../forms.ts";
import { pagePermission, redirectAfterPost } from "../page-auth.tsx";
import { pageUserOf } from "../page-user.ts";
import {
  type CreatedInvitation,
  InvitationsPage,
  type InviteFormValues,
} from "../pages/invitations.tsx";
import { InvitePage } from "../pages/invite.tsx";
import { MessagePage } from "../pages/message.tsx";

const DEAD_LINK = `${INVALID_INVITATION}. Ask the person who invited you for a new link.`;

function deadLink(c: Context<AppEnv>) {
  return c.html(<MessagePage title="Invitation link not valid" message={DEAD_LINK} />, 400);
}

// Whether an error is the one answer every dead link gets (as opposed to a field's problem).
function isDeadLink(fields: FieldErrors | undefined): boolean {
  return fields?.token !== undefined;
}

/** The live invitation behind a token, or undefined for a dead link. */
async function previewOrNothing(deps: AppDeps, token: string) {
  try {
    return await previewInvitation(deps, token);
  } catch (err) {
    if (isDeadLink(fieldErrorsOf(err))) return undefined;
    throw err;
  }
}

/** Spends the invitation, or says what to show instead: field problems or a page-level error. */
async function accept(
  c: Context<AppEnv>,
  deps: AppDeps,
  input: AcceptInvitationInput,
  preview: InvitationPreview,
) {
  const again = (status: 400 | 401 | 429, errors?: FieldProblems, error?: string) =>
    c.html(
      <InvitePage token={input.token} preview={preview} errors={errors} error={error} />,
      status,
    );
  let accepted;
  try {
    accepted = await acceptInvitation(deps, auditContextOf(c), input);
  } catch (err) {
    const fields = fieldErrorsOf(err);
    if (isDeadLink(fields)) return deadLink(c);
    if (fields) return again(400, fields);
    if (!(err instanceof AppError)) throw err;
    if (err.code === "unauthenticated") {
      return again(401, { password: "is not this account's password" });
    }
    if (err.code === "rate_limited") {
      const wait = err.retryAfterSeconds ?? 1;
      c.header("Retry-After", String(Math.ceil(wait)));
      return again(429, undefined, `Too many wrong passwords; try again in ${describeWait(wait)}.`);
    }
    throw err;
  }
  const message = accepted.accountCreated
    ? `Your account ${preview.email} is ready and belongs to ${accepted.tenantName}. Sign in with it.`
    : `${preview.email} is now a member of ${accepted.tenantName}. Sign in as usual to work there.`;
  return c.html(
    <MessagePage
      title={`You joined ${accepted.tenantName}`}
      message={message}
      link={{ href: "/login", label: "Go to sign in" }}
    />,
  );
}

const NOTICES: Record<string, string> = { revoked: "Invitation revoked; its link no longer works" };

/** Renders the invitations page of the acting tenant. */
async function renderInvitations(
  c: Context<AppEnv>,
  deps: AppDeps,
  access: Access,
  extra: {
    values?: InviteFormValues;
    errors?: FieldProblems;
    created?: CreatedInvitation;
    flash?: FlashMessage[];
    status?: 200 | 400 | 403 | 404 | 409;
  } = {},
) {
  const [roles, pending] = await Promise.all([
    listAssignableRoles(deps, access),
    listInvitations(deps, access),
  ]);
  const { status = 200, ...rest } = extra;
  return c.html(
    <InvitationsPage user={pageUserOf(c)} roles={roles} pending={pending} {...rest} />,
    status,
  );
}

// A checkbox group arrives as one string, several, or none at all.
function listOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string");
  return typeof value === "string" ? [value] : [];
}

/**
 * `/invite` (public: the page behind an invitation link) and `/invitations` (members with
 * `users.manage`: invite people into the active tenant and revoke pending invitations).
 */
export function invitationsPages(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  const permit = pagePermission(deps);

  routes.get("/invite", publicRoute, async (c) => {
    const token = c.req.query("token") ?? "";
    const preview = token ? await previewOrNothing(deps, token) : undefined;
    if (!preview) return deadLink(c);
    return c.html(<InvitePage token={token} preview={preview} />);
  });

  routes.post("/invite", publicRoute, async (c) => {
    const form = await readForm(c);
    const token = form.token ?? "";
    const preview = token ? await previewOrNothing(deps, token) : undefined;
    if (!preview) return deadLink(c);
    const parsed = parseForm(AcceptInvitationInput, form, ["token", "password"]);
    const errors: FieldErrors = parsed.ok ? {} : { ...parsed.fields };
    if (!preview.accountExists && !errors.password && form.confirmPassword !== form.password) {
      errors.confirmPassword = "does not match the password";
    }
    if (!parsed.ok || Object.keys(errors).length > 0) {
      if (isDeadLink(errors)) return deadLink(c);
      return c.html(<InvitePage token={token} preview={preview} errors={errors} />, 400);
    }
    return await accept(c, deps, parsed.data, preview);
  });

  routes.get("/invitations", permit("users.manage", "/invitations"), async (c) => {
    const key = c.req.query("notice") ?? "";
    // Only known keys, so a crafted link cannot put its own words (or a prototype's) on the page.
    const notice = Object.hasOwn(NOTICES, key) ? NOTICES[key] : undefined;
    const flash: FlashMessage[] = notice ? [{ kind: "success", text: notice }] : [];
    return await renderInvitations(c, deps, accessOf(c), { flash });
  });

  routes.post("/invitations", permit("users.manage", "/invitations"), async (c) => {
    const access = accessOf(c);
    const body = await c.req.parseBody({ all: true });
    const values = {
      email: typeof body.email === "string" ? body.email : "",
      roles: listOf(body.roles),
    };
    const parsed = CreateInvitationInput.safeParse(values);
    if (!parsed.success) {
      const errors: FieldErrors = {};
      for (const issue of parsed.error.issues) {
        errors[String(issue.path[0] ?? "email")] ??= issue.message;
      }
      return await renderInvitations(c, deps, access, { values, errors, status: 400 });
    }
    try {
      const { invitation, link } = await createInvitation(
        deps,
        auditContextOf(c),
        access,
        parsed.data,
      );
      const created = { email: invitation.email, link, expiresAt: invitation.expiresAt };
      return await renderInvitations(c, deps, access, { created });
    } catch (err) {
      if (
        !(err instanceof AppError) || !["forbidden", "not_found", "conflict"].includes(err.code)
      ) {
        throw err;
      }
      const flash: FlashMessage[] = [{ kind: "error", text: err.message }];
      return await renderInvitations(c, deps, access, {
        values,
        flash,
        status: err.status as 403 | 404 | 409,
      });
    }
  });

  routes.post("/invitations/:id/revoke", permit("users.manage", "/invitations"), async (c) => {
    const access = accessOf(c);
    try {
      await revokeInvitation(deps, auditContextOf(c), access, c.req.param("id"));
    } catch (err) {
      if (!(err instanceof AppError) || err.code !== "not_found") throw err;
      const flash: FlashMessage[] = [{ kind: "error", text: err.message }];
      return await renderInvitations(c, deps, access, { flash, status: 404 });
    }
    return redirectAfterPost(c, "/invitations?notice=revoked");
  });

  return routes;
}
