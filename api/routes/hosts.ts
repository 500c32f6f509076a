import { Hono } from "hono";
import { accessOf, permissionGuard } from "../auth/route-access.ts";
import type { AppDeps, AppEnv } from "../deps.ts";
import { auditContextOf } from "../request-context.ts";
import { createHost, reissueEnrolment } from "../services/host-enrolment.ts";
import { cancelCommand } from "../services/agent-commands.ts";
import {
  getCommandOfHost,
  hostMetricSeries,
  listCommandsOfHost,
} from "../services/host-history.ts";
import {
  CreateHostInput,
  HostCommandParam,
  HostCommandsQuery,
  HostIdParam,
  HostMetricsQuery,
} from "../services/host-inputs.ts";
import { diagnoseHost, getHost, listHosts, revokeHost } from "../services/hosts.ts";
import { validate } from "../validate.ts";

/** `/api/v1/hosts`: the active tenant's hosts, their enrolment, commands and metrics. */
export function hostsRoutes(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  const permit = permissionGuard(deps);

  routes.post("/hosts", permit("hosts.create"), validate("json", CreateHostInput), async (c) => {
    const created = await createHost(deps, accessOf(c), auditContextOf(c), c.req.valid("json"));
    return c.json(created, 201);
  });

  routes.get("/hosts", permit("hosts.read"), async (c) => {
    return c.json({ hosts: await listHosts(deps, accessOf(c)) });
  });

  routes.get("/hosts/:id", permit("hosts.read"), validate("param", HostIdParam), async (c) => {
    return c.json({ host: await getHost(deps, accessOf(c), c.req.valid("param").id) });
  });

  routes.delete(
    "/hosts/:id",
    permit("hosts.delete"),
    validate("param", HostIdParam),
    async (c) => {
      await revokeHost(deps, accessOf(c), auditContextOf(c), c.req.valid("param").id);
      return c.body(null, 204);
    },
  );

  routes.post(
    "/hosts/:id/enrolment",
    permit("hosts.update"),
    validate("param", HostIdParam),
    async (c) => {
      const { id } = c.req.valid("param");
      return c.json(await reissueEnrolment(deps, accessOf(c), auditContextOf(c), id));
    },
  );

  routes.post(
    "/hosts/:id/diagnose",
    permit("hosts.update"),
    validate("param", HostIdParam),
    async (c) => {
      const { id } = c.req.valid("param");
      const command = await diagnoseHost(deps, accessOf(c), auditContextOf(c), id);
      return c.json({ command }, 202);
    },
  );

  routes.get(
    "/hosts/:id/commands",
    permit("hosts.read"),
    validate("param", HostIdParam),
    validate("query", HostCommandsQuery),
    async (c) => {
      const { id } = c.req.valid("param");
      const commands = await listCommandsOfHost(deps, accessOf(c), id, c.req.valid("query"));
      return c.json({ commands });
    },
  );

  routes.get(
    "/hosts/:id/commands/:commandId",
    permit("hosts.read"),
    validate("param", HostCommandParam),
    async (c) => {
      const { id, commandId } = c.req.valid("param");
      return c.json({ command: await getCommandOfHost(deps, accessOf(c), id, commandId) });
    },
  );

  routes.delete(
    "/hosts/:id/commands/:commandId",
    permit("hosts.update"),
    validate("param", HostCommandParam),
    async (c) => {
      const { id, commandId } = c.req.valid("param");
      const command = await cancelCommand(
        deps,
        accessOf(c),
        auditContextOf(c),
        id,
        commandId,
      );
      return c.json({ command });
    },
  );

  routes.get(
    "/hosts/:id/metrics",
    permit("hosts.read"),
    validate("param", HostIdParam),
    validate("query", HostMetricsQuery),
    async (c) => {
      const { id } = c.req.valid("param");
      const { hours } = c.req.valid("query");
      return c.json({ points: await hostMetricSeries(deps, accessOf(c), id, hours) });
    },
  );

  return routes;
}
