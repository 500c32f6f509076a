// Sites of a tenant: creating, changing and deleting them. Each verb checks the permission (for
// the site itself, so site-scoped roles count), changes the rows, raises the host's desired
// revision and writes the audit row in one transaction; the host's agent converges after commit.
import { and, asc, eq, inArray } from "drizzle-orm";
import type { SiteRuntime } from "../../agent/protocol/sites.ts";
import { newId } from "../../db/ids.ts";
import { hosts, sites } from "../../db/schema.ts";
import { can, canOnSomeSite } from "../auth/grants.ts";
import { type Access, requirePermission } from "../auth/route-access.ts";
import type { AppDeps } from "../deps.ts";
import { AppError } from "../errors.ts";
import { type CommandView, enqueueCommand } from "./agent-commands.ts";
import { type AuditContext, recordAudit } from "./audit.ts";
import { bumpDesiredRevision } from "./desired-state.ts";
import { getLiveHostRefOrThrow } from "./host-view.ts";
import { refusePanelDomain } from "./panel-site.ts";
import { allocateWorkerPort, claimDomains } from "./site-allocation.ts";
import { sealSiteEnv } from "./site-env.ts";
import type { CreateSiteInput, UpdateSiteInput } from "./site-inputs.ts";
import { getSiteOrThrow, type SiteRow, type SiteView, siteViews } from "./site-view.ts";

// The host's default when a site names no runtime: FrankenPHP where it is installed (production),
// PHP's built-in server where only PHP is, FrankenPHP when the host has not reported its tools
// (the agent then reports it missing on the site).
function defaultRuntime(inventory: Record<string, unknown> | null): SiteRuntime {
  const present = (tool: string) =>
    (inventory?.[tool] as { present?: boolean } | undefined)?.present === true;
  if (present("frankenphp")) return "frankenphp";
  return present("php") ? "php-cli" : "frankenphp";
}

/** The site's system user on its host, derived from its id so it never collides. */
export function systemUserOf(siteId: string): string {
  return `cs_${siteId.slice("site_".length)}`.slice(0, 32);
}

async function viewOf(db: Parameters<typeof siteViews>[0], row: SiteRow): Promise<SiteView> {
  const [view] = await siteViews(db, [row]);
  if (!view) throw new Error(`no view for site ${row.id}`);
  return view;
}

/**
 * The tenant's sites the caller may read (`sites.read`, tenant-wide or per site), by domain; only
 * those on `hostId` when given.
 */
export async function listSites(
  deps: AppDeps,
  access: Access,
  options: { hostId?: string } = {},
): Promise<SiteView[]> {
  const { grants } = access;
  const readable = [...grants.bySite].filter(([, held]) => held.has("sites.read"))
    .map(([siteId]) => siteId);
  const tenantWide = can(grants, "sites.read");
  if (!canOnSomeSite(grants, "sites.read")) requirePermission(access, "sites.read");
  const db = deps.database.db;
  const rows = await db.select().from(sites)
    .where(and(
      eq(sites.tenantId, access.tenantId),
      tenantWide ? undefined : inArray(sites.id, readable),
      options.hostId === undefined ? undefined : eq(sites.hostId, options.hostId),
    ))
    .orderBy(asc(sites.domain));
  return await siteViews(db, rows);
}

/** One site of the tenant (`sites.read` on it); another tenant's is a 404. */
export async function getSite(deps: AppDeps, access: Access, siteId: string): Promise<SiteView> {
  requirePermission(access, "sites.read", siteId);
  const db = deps.database.db;
  return await viewOf(db, await getSiteOrThrow(db, access.tenantId, siteId));
}

/**
 * Creates a site on one of the tenant's live hosts (`sites.create`): claims its names and a pair
 * of worker ports, stores its environment encrypted, and raises the host's desired revision.
 */
export async function createSite(
  deps: AppDeps,
  access: Access,
  audit: AuditContext,
  input: CreateSiteInput,
): Promise<SiteView> {
  requirePermission(access, "sites.create");
  refusePanelDomain(deps.config, [input.domain, ...input.aliases]);
  return await deps.database.db.transaction(async (tx) => {
    const host = await getLiveHostRefOrThrow(tx, access.tenantId, input.hostId);
    const [facts] = await tx.select({ inventory: hosts.inventory }).from(hosts)
      .where(eq(hosts.id, host.id));
    const id = newId("site");
    const port = await allocateWorkerPort(tx, host.id, deps.config.workerPorts);
    const env = await sealSiteEnv(deps.secrets, id, input.env);
    const now = deps.now();
    const [row] = await tx.insert(sites).values({
      id,
      tenantId: access.tenantId,
      hostId: host.id,
      domain: input.domain,
      runtime: input.runtime ?? defaultRuntime(facts?.inventory ?? null),
      docroot: input.docroot,
      workerScript: input.workerScript ?? null,
      port,
      systemUser: systemUserOf(id),
      ...env,
      createdBy: access.auth.userId,
      createdAt: now,
      updatedAt: now,
    }).returning();
    if (!row) throw new Error("site insert returned no row");
    await claimDomains(tx, id, [input.domain, ...input.aliases]);
    await bumpDesiredRevision(tx, host.id);
    await recordAudit(tx, { ...audit, tenantId: access.tenantId }, {
      action: "sites.create",
      resourceType: "site",
      resourceId: id,
      outcome: "success",
      details: {
        domain: row.domain,
        aliases: input.aliases,
        hostId: host.id,
        runtime: row.runtime,
        docroot: row.docroot,
        workerPort: port,
        envNames: env.envNames,
      },
    });
    return await viewOf(tx, row);
  });
}

/**
 * Changes a site (`sites.update` on it): only the fields given; `aliases` and `env` replace the
 * whole list. The audit row lists what changed, with environment names but never values.
 */
export async function updateSite(
  deps: AppDeps,
  access: Access,
  audit: AuditContext,
  siteId: string,
  input: UpdateSiteInput,
): Promise<SiteView> {
  requirePermission(access, "sites.update", siteId);
  return await deps.database.db.transaction(async (tx) => {
    const before = await getSiteOrThrow(tx, access.tenantId, siteId, "update");
    const changes: Partial<SiteRow> = { updatedAt: deps.now() };
    const changed: Record<string, unknown> = {};
    if (input.domain !== undefined || input.aliases !== undefined) {
      const [current] = await siteViews(tx, [before]);
      const domain = input.domain ?? before.domain;
      const aliases = input.aliases ?? current?.aliases.filter((alias) => alias !== domain) ?? [];
      if (aliases.includes(domain)) {
        throw new AppError("invalid_input", `"aliases": repeats the domain "${domain}"`);
      }
      refusePanelDomain(deps.config, [domain, ...aliases]);
      await claimDomains(tx, siteId, [domain, ...aliases]);
      changes.domain = domain;
      Object.assign(changed, { domain, aliases });
    }
    if (input.env !== undefined) {
      Object.assign(changes, await sealSiteEnv(deps.secrets, siteId, input.env));
      changed.envNames = changes.envNames;
    }
    for (const field of ["runtime", "docroot", "workerScript", "enabled"] as const) {
      if (input[field] === undefined) continue;
      Object.assign(changes, { [field]: input[field] });
      changed[field] = input[field];
    }
    const [row] = await tx.update(sites).set(changes).where(eq(sites.id, siteId)).returning();
    if (!row) throw new Error("site update returned no row");
    await bumpDesiredRevision(tx, row.hostId);
    await recordAudit(tx, { ...audit, tenantId: access.tenantId }, {
      action: "sites.update",
      resourceType: "site",
      resourceId: siteId,
      outcome: "success",
      details: { domain: before.domain, changed },
    });
    return await viewOf(tx, row);
  });
}

/**
 * Deletes a site (`sites.delete` on it): its names and ports are free at once; the host stops
 * its worker and drops it from Caddy (desired state), and moves its files to the host's trash
 * for 7 days, or deletes them with `purge` (a `site.remove` command, delivered even if the host
 * is offline now).
 */
export async function deleteSite(
  deps: AppDeps,
  access: Access,
  audit: AuditContext,
  siteId: string,
  options: { purge: boolean },
): Promise<CommandView | null> {
  requirePermission(access, "sites.delete", siteId);
  return await deps.database.db.transaction(async (tx) => {
    const row = await getSiteOrThrow(tx, access.tenantId, siteId, "update");
    const [host] = await tx.select({ name: hosts.name, revokedAt: hosts.revokedAt }).from(hosts)
      .where(eq(hosts.id, row.hostId));
    await tx.delete(sites).where(eq(sites.id, siteId));
    await bumpDesiredRevision(tx, row.hostId);
    // A revoked host is never reached again: there is nobody to tidy up there.
    const command = host?.revokedAt ? null : await enqueueCommand(tx, deps, {
      host: { id: row.hostId, tenantId: row.tenantId, name: host?.name ?? row.hostId },
      siteId,
      kind: "site.remove",
      payload: { purge: options.purge },
      issuedBy: access.auth.userId,
    });
    await recordAudit(tx, { ...audit, tenantId: access.tenantId }, {
      action: "sites.delete",
      resourceType: "site",
      resourceId: siteId,
      outcome: "success",
      details: { domain: row.domain, hostId: row.hostId, purge: options.purge },
    });
    return command;
  });
}

/**
 * Restarts a site's worker without dropping requests (`sites.update` on it): a new worker starts
 * beside the old one, Caddy switches to it, then the old one stops.
 */
export async function restartSite(
  deps: AppDeps,
  access: Access,
  audit: AuditContext,
  siteId: string,
): Promise<CommandView> {
  requirePermission(access, "sites.update", siteId);
  return await deps.database.db.transaction(async (tx) => {
    const row = await getSiteOrThrow(tx, access.tenantId, siteId, "update");
    if (!row.enabled) {
      throw new AppError("conflict", `Cannot restart site "${row.domain}": it is stopped`);
    }
    const host = await getLiveHostRefOrThrow(tx, access.tenantId, row.hostId);
    const command = await enqueueCommand(tx, deps, {
      host,
      siteId,
      kind: "site.restart",
      payload: {},
      issuedBy: access.auth.userId,
    });
    await recordAudit(tx, { ...audit, tenantId: access.tenantId }, {
      action: "sites.restart",
      resourceType: "site",
      resourceId: siteId,
      outcome: "success",
      details: { domain: row.domain, commandId: command.id },
    });
    return command;
  });
}
