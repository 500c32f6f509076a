import { Hono } from "hono";
import { accessOf, permissionGuard, publicRoute } from "../auth/route-access.ts";
import type { AppDeps, AppEnv } from "../deps.ts";
import { auditContextOf } from "../request-context.ts";
import {
  AcceptInvitationInput,
  CreateInvitationInput,
  InvitationPathParams,
} from "../services/invitation-inputs.ts";
import { acceptInvitation } from "../services/invitation-accept.ts";
import { createInvitation, listInvitations, revokeInvitation } from "../services/invitations.ts";
import { validate } from "../validate.ts";

/**
 * Invitations into a tenant: `/tenants/:id/invitations` for its user managers, and the public
 * `/invitations/accept` the link's holder posts to (which never signs anyone in).
 */
export function invitationsRoutes(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  const permit = permissionGuard(deps);
  const manage = () => permit("users.manage", { tenantFrom: "path" });

  routes.post(
    "/tenants/:id/invitations",
    manage(),
    validate("json", CreateInvitationInput),
    async (c) => {
      const created = await createInvitation(
        deps,
        auditContextOf(c),
        accessOf(c),
        c.req.valid("json"),
      );
      return c.json(created, 201);
    },
  );

  routes.get("/tenants/:id/invitations", manage(), async (c) => {
    return c.json({ invitations: await listInvitations(deps, accessOf(c)) });
  });

  routes.delete(
    "/tenants/:id/invitations/:invitationId",
    manage(),
    validate("param", InvitationPathParams),
    async (c) => {
      const { invitationId } = c.req.valid("param");
      await revokeInvitation(deps, auditContextOf(c), accessOf(c), invitationId);
      return c.body(null, 204);
    },
  );

  routes.post(
    "/invitations/accept",
    publicRoute,
    validate("json", AcceptInvitationInput),
    async (c) => {
      const accepted = await acceptInvitation(deps, auditContextOf(c), c.req.valid("json"));
      return c.json(accepted, 201);
    },
  );

  return routes;
}
