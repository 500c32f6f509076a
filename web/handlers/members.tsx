/** @jsxImportSource hono/jsx */
import { type Context, Hono } from "hono";
import { can } from "../../api/auth/grants.ts";
import { accessOf } from "../../api/auth/route-access.ts";
import type { AppDeps, AppEnv } from "../../api/deps.ts";
import type { ErrorStatus } from "../../api/errors.ts";
import { auditContextOf } from "../../api/request-context.ts";
import { listAssignableRoles, listMembers } from "../../api/services/member-list.ts";
import { removeMember, setMemberRoles } from "../../api/services/members.ts";
import { SetMemberRolesInput } from "../../api/services/role-inputs.ts";
import type { FlashMessage } from "../components.tsx";
import { pagePermission, redirectAfterPost } from "../page-auth.tsx";
import { pageUserOf } from "../page-user.ts";
import { MembersPage, RemoveMemberPage, type RolesDraft } from "../pages/members.tsx";
import { noticeFlash, refusalOf } from "./roles.tsx";

const NOTICES: Record<string, string> = {
  "roles-saved": "Roles saved. They apply from the member's next request.",
  removed: "Member removed.",
};

/** `/members`: the organisation's members; changing their roles and removing them. */
export function membersPages(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  const permit = pagePermission(deps);

  async function membersPage(
    c: Context<AppEnv>,
    options: { flash?: FlashMessage[]; draft?: RolesDraft; status?: ErrorStatus } = {},
  ) {
    const access = accessOf(c);
    // The posts need only `users.manage`; without `users.read` the refusal still shows.
    const members = can(access.grants, "users.read") ? await listMembers(deps, access) : [];
    const assignable = can(access.grants, "users.manage")
      ? await listAssignableRoles(deps, access)
      : undefined;
    return c.html(
      <MembersPage
        user={pageUserOf(c)}
        members={members}
        assignable={assignable}
        draft={options.draft}
        flash={options.flash ?? noticeFlash(c, NOTICES)}
      />,
      options.status ?? 200,
    );
  }

  routes.get("/members", permit("users.read", "/members"), (c) => membersPage(c));

  routes.post("/members/:userId/roles", permit("users.manage", "/members"), async (c) => {
    const userId = c.req.param("userId");
    const body = await c.req.parseBody({ all: true });
    const checked = [body.roleId ?? []].flat().filter((v): v is string => typeof v === "string");
    const draft = { userId, roleIds: checked };
    const parsed = SetMemberRolesInput.safeParse({ roles: checked.map((roleId) => ({ roleId })) });
    if (!parsed.success) {
      const flash: FlashMessage = { kind: "error", text: "Those roles could not be read." };
      return membersPage(c, { flash: [flash], draft, status: 400 });
    }
    try {
      await setMemberRoles(deps, auditContextOf(c), accessOf(c), userId, parsed.data, {
        keepSiteRoles: true,
      });
    } catch (err) {
      const { flash, status } = refusalOf(err);
      return membersPage(c, { flash: [flash], draft, status });
    }
    return redirectAfterPost(c, "/members?notice=roles-saved");
  });

  // Two steps without script: the first post shows what removal means, the second removes.
  routes.post("/members/:userId/remove", permit("users.manage", "/members"), async (c) => {
    const access = accessOf(c);
    const userId = c.req.param("userId");
    const body = await c.req.parseBody();
    if (body.confirm !== "yes") {
      let label = "this member";
      if (can(access.grants, "users.read")) {
        const member = (await listMembers(deps, access)).find((m) => m.userId === userId);
        if (!member) {
          const flash: FlashMessage = { kind: "error", text: "Member not found" };
          return membersPage(c, { flash: [flash], status: 404 });
        }
        label = member.email;
      }
      return c.html(<RemoveMemberPage user={pageUserOf(c)} userId={userId} label={label} />);
    }
    try {
      await removeMember(deps, auditContextOf(c), access, userId);
    } catch (err) {
      const { flash, status } = refusalOf(err);
      return membersPage(c, { flash: [flash], status });
    }
    // Someone who removed themselves can no longer see the list.
    return redirectAfterPost(c, userId === access.auth.userId ? "/" : "/members?notice=removed");
  });

  return routes;
}
