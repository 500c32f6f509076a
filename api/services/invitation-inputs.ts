import { z } from "zod";
import { normalizeEmail, PASSWORD_MAX_LENGTH } from "../auth/passwords.ts";

const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** The most roles one invitation may carry. */
export const MAX_INVITATION_ROLES = 10;

/** `POST /api/v1/tenants/:id/invitations`: who to invite and the roles they get on joining. */
export const CreateInvitationInput = z.object({
  email: z.string().max(254, "is too long").transform(normalizeEmail).pipe(
    z.string().min(1, "is required").regex(EMAIL_PATTERN, "is not a valid email address"),
  ),
  roles: z.array(z.string().min(1, "is required").max(64, "is too long"))
    .min(1, "must name at least one role")
    .max(MAX_INVITATION_ROLES, `must name at most ${MAX_INVITATION_ROLES} roles`)
    .transform((ids) => [...new Set(ids)]),
}).strict();
export type CreateInvitationInput = z.infer<typeof CreateInvitationInput>;

/** `POST /api/v1/invitations/accept`: the link's token and the password (new or the account's). */
export const AcceptInvitationInput = z.object({
  token: z.string().min(1, "is required").max(200, "is too long"),
  // The cap stops oversized input before any hashing; the policy itself lives in passwords.ts.
  password: z.string().min(1, "is required").max(PASSWORD_MAX_LENGTH * 4, "is too long"),
}).strict();
export type AcceptInvitationInput = z.infer<typeof AcceptInvitationInput>;

/** The path of `/api/v1/tenants/:id/invitations/:invitationId`. */
export const InvitationPathParams = z.object({
  id: z.string().min(1).max(64),
  invitationId: z.string().min(1).max(64),
}).strict();
export type InvitationPathParams = z.infer<typeof InvitationPathParams>;

/** An invitation as admins see it: never the token or its hash. */
export interface InvitationView {
  id: string;
  email: string;
  roles: string[];
  expiresAt: string;
  createdAt: string;
}

/** A pending invitation in the list, flagged once its link has run out. */
export interface PendingInvitationView extends InvitationView {
  expired: boolean;
}

/** What the accept page shows of a live invitation before anything is spent. */
export interface InvitationPreview {
  tenantName: string;
  email: string;
  /** Whether the invitee signs in with an existing account's password or chooses a new one. */
  accountExists: boolean;
}

/** What accepting did; accepting never signs anyone in. */
export interface AcceptedInvitation {
  userId: string;
  tenantId: string;
  tenantName: string;
  accountCreated: boolean;
}
