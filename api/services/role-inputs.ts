import { z } from "zod";
import { isPermission, type Permission } from "../auth/permissions.ts";

// ASCII letters, digits, spaces, hyphens and underscores: a role name is shown in badges and
// audit rows, so nothing in it can pass for markup, and no look-alike letter can pass for "owner".
const RoleName = z.string().trim().min(1, "is required").max(50, "is at most 50 characters")
  .regex(/^[A-Za-z0-9 _-]+$/, "may contain only letters, digits, spaces, - and _");

const Description = z.string().trim().max(500, "is at most 500 characters");

const RoleId = z.string().min(1, "is required").max(100, "is too long");

// Each entry is checked against the catalogue so the error names the one that is unknown.
const PermissionList = z.array(z.string().max(100, "is too long")).max(100, "has too many entries")
  .superRefine((list, ctx) => {
    for (const [index, name] of list.entries()) {
      if (!isPermission(name)) {
        ctx.addIssue({
          code: "custom",
          path: [index],
          message: `"${name.slice(0, 100)}" is not a known permission`,
        });
      }
    }
  })
  .transform((list) => [...new Set(list)] as Permission[]);

/** `POST /api/v1/roles`: a custom role of the active tenant. */
export const CreateRoleInput = z.object({
  name: RoleName,
  description: Description.optional(),
  parentId: RoleId.optional(),
  permissions: PermissionList,
}).strict();
export type CreateRoleInput = z.infer<typeof CreateRoleInput>;

/** `PATCH /api/v1/roles/:id`: only the fields given change; `parentId: null` drops the parent. */
export const UpdateRoleInput = z.object({
  name: RoleName.optional(),
  description: Description.optional(),
  parentId: RoleId.nullable().optional(),
  permissions: PermissionList.optional(),
}).strict();
export type UpdateRoleInput = z.infer<typeof UpdateRoleInput>;

/** Sites arrive in a later issue; until then a site id is only checked for its shape. */
export const SiteId = z.string().regex(/^site_[a-z0-9]{1,60}$/, "is not a site id");

const Assignment = z.object({ roleId: RoleId, siteId: SiteId.optional() }).strict();

/** `PUT /api/v1/members/:userId/roles`: the member's complete set of assignments here. */
export const SetMemberRolesInput = z.object({
  roles: z.array(Assignment).max(100, "has too many entries").superRefine((list, ctx) => {
    const seen = new Set<string>();
    for (const [index, { roleId, siteId }] of list.entries()) {
      const key = `${roleId} ${siteId ?? ""}`;
      if (seen.has(key)) {
        ctx.addIssue({ code: "custom", path: [index], message: "is listed twice" });
      }
      seen.add(key);
    }
  }),
}).strict();
export type SetMemberRolesInput = z.infer<typeof SetMemberRolesInput>;
