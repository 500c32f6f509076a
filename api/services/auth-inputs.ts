import { z } from "zod";
import { PASSWORD_MAX_LENGTH } from "../auth/passwords.ts";

// Length caps stop oversized input before any hashing; the policy itself lives in passwords.ts.
const password = z.string().min(1, "is required").max(PASSWORD_MAX_LENGTH * 4, "is too long");
const email = z.string().trim().min(3, "is required").max(254, "is too long");

/** `POST /api/v1/auth/login` and the login form. */
export const LoginInput = z.object({ email, password }).strict();
export type LoginInput = z.infer<typeof LoginInput>;

/** The second sign-in step: a TOTP code or a backup code, never both. */
export const MfaVerifyInput = z.object({
  mfaToken: z.string().min(1).max(200),
  code: z.string().max(20).optional(),
  backupCode: z.string().max(40).optional(),
}).strict().refine((v) => (v.code === undefined) !== (v.backupCode === undefined), {
  message: "give either code or backupCode",
  path: ["code"],
});
export type MfaVerifyInput = z.infer<typeof MfaVerifyInput>;

/** `POST /api/v1/auth/refresh` from an API client (browsers send the refresh cookie instead). */
export const RefreshInput = z.object({ refreshToken: z.string().min(1).max(300) }).strict();
export type RefreshInput = z.infer<typeof RefreshInput>;

/** First-run setup: the one-time token from the start-up log, the first superuser and tenant. */
export const SetupInput = z.object({
  token: z.string().min(1).max(200),
  email,
  password,
  tenantName: z.string().trim().min(1, "is required").max(100, "is too long"),
}).strict();
export type SetupInput = z.infer<typeof SetupInput>;

/** Changing one's own password needs the current one. */
export const ChangePasswordInput = z.object({
  currentPassword: password,
  newPassword: password,
}).strict();
export type ChangePasswordInput = z.infer<typeof ChangePasswordInput>;

/** Confirms 2FA enrolment with a first code. */
export const EnableTotpInput = z.object({ code: z.string().min(1).max(20) }).strict();
export type EnableTotpInput = z.infer<typeof EnableTotpInput>;

/** Turning 2FA off needs both factors. */
export const DisableTotpInput = z.object({ password, code: z.string().min(1).max(20) }).strict();
export type DisableTotpInput = z.infer<typeof DisableTotpInput>;

/** Regenerating backup codes needs the password. */
export const RegenerateBackupCodesInput = z.object({ password }).strict();
export type RegenerateBackupCodesInput = z.infer<typeof RegenerateBackupCodesInput>;
