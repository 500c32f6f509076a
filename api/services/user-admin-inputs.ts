import { z } from "zod";
import { PASSWORD_MAX_LENGTH } from "../auth/passwords.ts";

// Length caps stop oversized input before any hashing; the policy itself lives in passwords.ts.
const password = z.string().min(1, "is required").max(PASSWORD_MAX_LENGTH * 4, "is too long");

/** The `:id` of `/api/v1/users/:id/…`: a prefixed id, never longer than a few dozen characters. */
export const UserIdParam = z.object({ id: z.string().min(1).max(64) }).strict();
export type UserIdParam = z.infer<typeof UserIdParam>;

/** `POST /api/v1/auth/password-reset`: the token from an admin's reset link and the new password. */
export const PasswordResetInput = z.object({
  token: z.string().min(1, "is required").max(200, "is too long"),
  newPassword: password,
}).strict();
export type PasswordResetInput = z.infer<typeof PasswordResetInput>;
