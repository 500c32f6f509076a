/** @jsxImportSource hono/jsx */
import { type Context, Hono } from "hono";
import { can } from "../../api/auth/grants.ts";
import { accessOf } from "../../api/auth/route-access.ts";
import type { AppDeps, AppEnv } from "../../api/deps.ts";
import type { ErrorStatus } from "../../api/errors.ts";
import { auditContextOf } from "../../api/request-context.ts";
import { listHosts } from "../../api/services/hosts.ts";
import { DeleteSiteQuery, type UpdateSiteInput } from "../../api/services/site-inputs.ts";
import {
  createSite,
  deleteSite,
  getSite,
  listSites,
  restartSite,
  updateSite,
} from "../../api/services/sites.ts";
import type { FlashMessage } from "../components.tsx";
import { fieldErrorsOf, parseForm, readForm } from "../forms.ts";
import { pagePermission, redirectAfterPost } from "../page-auth.tsx";
import { pageUserOf } from "../page-user.ts";
import { MessagePage } from "../pages/message.tsx";
import { type NotFound, orNotFoundPage } from "./not-found.tsx";
import { noticeFlash, refusalOf } from "./roles.tsx";
import { DeleteSitePage, SitePage, SiteStatusBlock } from "./sites-detail.tsx";
import {
  CREATE_FIELDS,
  CreateSiteForm,
  EDIT_FIELDS,
  EditSiteForm,
  fieldProblems,
  parseEnvLines,
  siteFormValues,
} from "./sites-form.tsx";
import { NewSitePage, sitePath, SitesPage } from "./sites-list.tsx";

// Fixed texts picked by a query key, so the address bar cannot put words on the page.
const NOTICES: Record<string, string> = {
  created: "Site created. Its host sets it up now; the status turns to running once it serves.",
  saved: "Settings saved. The host applies them now.",
  env: "Environment variables replaced. The host restarts the site's worker with them.",
  started: "Site started. The host serves it again shortly.",
  stopped: "Site stopped. It keeps its files and ports.",
  restarted: "Restart queued. The new worker takes over once it answers.",
  deleted: "Site deleted. Its files are in the host's trash for 7 days.",
  purged: "Site deleted. Its host deletes its files now.",
};

const NOT_FOUND: NotFound = {
  title: "Site not found",
  message: "There is no such site in this organisation, or it was deleted.",
  back: { href: "/sites", label: "Back to sites" },
};

const orNotFound = (c: Context<AppEnv>, run: () => Promise<Response>) =>
  orNotFoundPage(c, NOT_FOUND, run);

type SitePageExtras = Pick<Parameters<typeof SitePage>[0], "flash" | "edit" | "envError">;

/** Builds the site pages; `deps` as for the JSON API. */
function sitePageRenderer(deps: AppDeps) {
  /**
   * The site's page with what an action left to show (form problems, a refusal). Someone who may
   * act on the site but not read it gets the refusal alone.
   */
  return async (
    c: Context<AppEnv>,
    id: string,
    extras: SitePageExtras,
    status: ErrorStatus | 200,
  ): Promise<Response> => {
    const access = accessOf(c);
    if (!can(access.grants, "sites.read", id)) {
      const message = extras.flash?.[0]?.text ?? extras.envError ?? "The change was refused.";
      return c.html(
        <MessagePage title="Not changed" message={message} user={pageUserOf(c)} />,
        status,
      );
    }
    const site = await getSite(deps, access, id);
    return c.html(
      <SitePage
        user={pageUserOf(c)}
        site={site}
        canUpdate={can(access.grants, "sites.update", id)}
        canDelete={can(access.grants, "sites.delete", id)}
        {...extras}
      />,
      status,
    );
  };
}

// The env form's replacement environment, or the problem to show beside it.
function envOf(form: Record<string, string>): ReturnType<typeof parseEnvLines> {
  const text = form.env ?? "";
  if (form.clear === "yes") {
    return text.trim() === ""
      ? { ok: true, env: {} }
      : { ok: false, problem: "tick “Remove all variables” only with the box left empty" };
  }
  if (text.trim() === "") {
    return { ok: false, problem: "are empty; to remove them all, tick “Remove all variables”" };
  }
  return parseEnvLines(text);
}

/** `/sites`, `/sites/new`, `/sites/:id`: the tenant's sites, creating, changing, deleting. */
export function sitesPages(deps: AppDeps): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  const permit = pagePermission(deps);
  const renderSite = sitePageRenderer(deps);
  const onSite = (perm: Parameters<typeof permit>[0]) =>
    permit(perm, "/sites", { siteFrom: "path" });

  // Site-scoped roles count: the service narrows the list to the sites they cover.
  routes.get("/sites", permit("sites.read", "/sites", { siteFrom: "any" }), async (c) => {
    const access = accessOf(c);
    return c.html(
      <SitesPage
        user={pageUserOf(c)}
        sites={await listSites(deps, access)}
        canCreate={can(access.grants, "sites.create")}
        flash={noticeFlash(c, NOTICES)}
      />,
    );
  });

  // Someone who may create sites but not see hosts types the host's id instead of picking it.
  const hostsFor = (c: Context<AppEnv>) => {
    const access = accessOf(c);
    return can(access.grants, "hosts.read") ? listHosts(deps, access) : Promise.resolve(undefined);
  };

  // Before `/sites/:id`, which would otherwise take "new" for an id.
  routes.get("/sites/new", permit("sites.create", "/sites/new"), async (c) => {
    return c.html(
      <NewSitePage user={pageUserOf(c)} hosts={await hostsFor(c)} values={siteFormValues({})} />,
    );
  });

  routes.post("/sites/new", permit("sites.create", "/sites/new"), async (c) => {
    const form = await readForm(c);
    const values = siteFormValues(form);
    const page = async (extras: { errors?: Record<string, string>; flash?: FlashMessage[] }) => (
      <NewSitePage user={pageUserOf(c)} hosts={await hostsFor(c)} values={values} {...extras} />
    );
    const parsed = parseForm(CreateSiteForm, form, CREATE_FIELDS);
    if (!parsed.ok) return c.html(await page({ errors: fieldProblems(parsed.fields) }), 400);
    try {
      const site = await createSite(deps, accessOf(c), auditContextOf(c), parsed.data);
      return redirectAfterPost(c, `${sitePath(site)}?notice=created`);
    } catch (err) {
      const fields = fieldErrorsOf(err);
      if (fields) return c.html(await page({ errors: fieldProblems(fields) }), 400);
      const { flash, status } = refusalOf(err);
      return c.html(await page({ flash: [flash] }), status);
    }
  });

  routes.get(
    "/sites/:id",
    onSite("sites.read"),
    (c) =>
      orNotFound(
        c,
        () => renderSite(c, c.req.param("id"), { flash: noticeFlash(c, NOTICES) }, 200),
      ),
  );

  // The status block alone, which the site's page polls while the site is pending.
  routes.get("/sites/:id/status", onSite("sites.read"), (c) =>
    orNotFound(c, async () => {
      const site = await getSite(deps, accessOf(c), c.req.param("id"));
      return c.html(<SiteStatusBlock site={site} />);
    }));

  // Applies one change, then back to the site's page with the notice that says so.
  const change = async (c: Context<AppEnv>, input: UpdateSiteInput, notice: string) => {
    const id = c.req.param("id") ?? "";
    await updateSite(deps, accessOf(c), auditContextOf(c), id, input);
    return redirectAfterPost(c, `/sites/${encodeURIComponent(id)}?notice=${notice}`);
  };

  routes.post("/sites/:id/edit", onSite("sites.update"), (c) =>
    orNotFound(c, async () => {
      const id = c.req.param("id");
      const form = await readForm(c);
      const values = siteFormValues(form);
      const parsed = parseForm(EditSiteForm, form, EDIT_FIELDS);
      if (!parsed.ok) {
        return renderSite(c, id, { edit: { values, errors: fieldProblems(parsed.fields) } }, 400);
      }
      try {
        return await change(c, parsed.data, "saved");
      } catch (err) {
        const fields = fieldErrorsOf(err);
        if (fields) {
          return renderSite(c, id, { edit: { values, errors: fieldProblems(fields) } }, 400);
        }
        // A name another site holds: said above the form; a deleted site 404s on rendering.
        const { flash, status } = refusalOf(err);
        return renderSite(c, id, { flash: [flash], edit: { values, errors: undefined } }, status);
      }
    }));

  routes.post("/sites/:id/env", onSite("sites.update"), (c) =>
    orNotFound(c, async () => {
      const env = envOf(await readForm(c));
      // The posted values are never rendered back: the form returns empty, with the problem.
      if (!env.ok) return renderSite(c, c.req.param("id"), { envError: env.problem }, 400);
      return await change(c, { env: env.env }, "env");
    }));

  routes.post("/sites/:id/enabled", onSite("sites.update"), (c) =>
    orNotFound(c, async () => {
      const { enabled } = await readForm(c);
      if (enabled !== "true" && enabled !== "false") {
        const flash: FlashMessage = { kind: "error", text: "Choose to start or stop the site." };
        return renderSite(c, c.req.param("id"), { flash: [flash] }, 400);
      }
      const on = enabled === "true";
      return await change(c, { enabled: on }, on ? "started" : "stopped");
    }));

  routes.post("/sites/:id/restart", onSite("sites.update"), (c) =>
    orNotFound(c, async () => {
      const id = c.req.param("id");
      try {
        await restartSite(deps, accessOf(c), auditContextOf(c), id);
      } catch (err) {
        // A stopped site or a revoked host: said on the site's page, which 404s if it is gone.
        const { flash, status } = refusalOf(err);
        return renderSite(c, id, { flash: [flash] }, status);
      }
      return redirectAfterPost(c, `${sitePath({ id })}?notice=restarted`);
    }));

  // Two steps without script: the first post asks, the second (with confirm=yes) deletes.
  routes.post("/sites/:id/delete", onSite("sites.delete"), (c) =>
    orNotFound(c, async () => {
      const access = accessOf(c);
      const id = c.req.param("id");
      const form = await readForm(c);
      const parsed = parseForm(DeleteSiteQuery, form, ["purge"]);
      if (form.confirm !== "yes" || !parsed.ok) {
        // Deleting does not need `sites.read`; without it the page names the site by its id.
        const site = can(access.grants, "sites.read", id)
          ? await getSite(deps, access, id)
          : { id, domain: id };
        return c.html(<DeleteSitePage user={pageUserOf(c)} site={site} />, parsed.ok ? 200 : 400);
      }
      const { purge } = parsed.data;
      await deleteSite(deps, access, auditContextOf(c), id, { purge });
      return redirectAfterPost(c, `/sites?notice=${purge ? "purged" : "deleted"}`);
    }));

  return routes;
}
