/** @jsxImportSource hono/jsx */
import type { Child } from "hono/jsx";
import { html } from "hono/html";
import { LOGOUT_PATH } from "../api/auth/cookies.ts";
import { type AssetName, assets } from "./assets.ts";
import type { Permission } from "../api/auth/permissions.ts";
import { Button, Flash, type FlashMessage } from "./components.tsx";
import type { PageUser } from "./page-user.ts";

/** The top-level sections of the panel, one per navigation link. */
export type NavSection =
  | "dashboard"
  | "sites"
  | "hosts"
  | "members"
  | "roles"
  | "audit"
  | "tenants"
  | "account";

// Only the pages the user may open in the active tenant; the pages check the permission again,
// this only avoids dead links.
const NAVIGATION: {
  section: NavSection;
  label: string;
  href: string;
  needs?: Permission;
  /** Shown also to those holding `needs` on a single site only. */
  perSite?: boolean;
}[] = [
  { section: "dashboard", label: "Dashboard", href: "/" },
  { section: "sites", label: "Sites", href: "/sites", needs: "sites.read", perSite: true },
  { section: "hosts", label: "Hosts", href: "/hosts", needs: "hosts.read" },
  { section: "members", label: "Members", href: "/members", needs: "users.read" },
  { section: "roles", label: "Roles", href: "/roles", needs: "roles.read" },
  { section: "audit", label: "Audit", href: "/audit", needs: "audit.read" },
  { section: "tenants", label: "Tenants", href: "/tenants" },
  { section: "account", label: "Account", href: "/account" },
];

/** The user as pages hand them over (a PageUser); only the email is needed to draw the frame. */
type LayoutUser = Pick<PageUser, "email"> & Partial<PageUser>;

function mayOpen(user: LayoutUser, needs: Permission | undefined, perSite = false): boolean {
  return needs === undefined || user.isSuperuser === true ||
    (user.permissions?.has(needs) ?? false) ||
    (perSite && (user.sitePermissions?.has(needs) ?? false));
}

/**
 * Which tenant the pages act in: a menu to switch with when there is a choice (a plain form post,
 * since the CSP allows no inline script), else just the tenant's name.
 */
function TenantSwitch(props: { user: LayoutUser }) {
  const tenants = props.user.tenants ?? [];
  const active = props.user.activeTenantId;
  if (tenants.length === 0) return null;
  if (tenants.length === 1) {
    return <span class="tenant-switch tenant-name">{tenants[0]?.name}</span>;
  }
  return (
    <form class="tenant-switch" method="post" action="/tenants/switch">
      <select name="tenantId" aria-label="Organisation">
        {tenants.map((tenant) => (
          <option value={tenant.id} selected={tenant.id === active}>{tenant.name}</option>
        ))}
      </select>
      {props.user.returnTo && <input type="hidden" name="next" value={props.user.returnTo} />}
      <Button variant="secondary">Switch</Button>
    </form>
  );
}

// The CSP forbids inline styles and eval, so htmx must not inject its indicator <style> (app.css
// styles .htmx-indicator instead) nor evaluate hx-on or inline scripts. Page snapshots stay out of
// localStorage, since pages can show secrets; going back to a swapped page reloads it instead.
const HTMX_CONFIG = JSON.stringify({
  includeIndicatorStyles: false,
  allowEval: false,
  allowScriptTags: false,
  historyCacheSize: 0,
  refreshOnHistoryMiss: true,
});

/** The page frame every panel page renders into: header, navigation, flash messages, content. */
export function Layout(props: {
  title: string;
  /** The navigation entry marked current; none for pages outside the main sections. */
  current?: NavSection;
  flash?: FlashMessage[];
  /** The signed-in user; without one the header offers only "Sign in". */
  user?: LayoutUser;
  /** Scripts beyond htmx this page needs, from web/static, always deferred. */
  scripts?: AssetName[];
  children: Child;
}) {
  const { user } = props;
  return html`<!DOCTYPE html>${(
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light dark" />
        <meta name="htmx-config" content={HTMX_CONFIG} />
        <title>{props.title} · Caddis</title>
        {/* Declared, or browsers ask for /favicon.ico and log its 404 on every page. */}
        <link rel="icon" type="image/svg+xml" href={assets.url("favicon.svg")} />
        <link rel="stylesheet" href={assets.url("app.css")} />
        <script src={assets.url("vendor/htmx-2.0.11.min.js")} defer></script>
        {(props.scripts ?? []).map((name) => <script src={assets.url(name)} defer></script>)}
      </head>
      <body>
        <a class="skip-link" href="#main">Skip to content</a>
        <header class="site-header">
          <a class="brand" href="/">Caddis</a>
          {user
            ? (
              <>
                <nav aria-label="Main">
                  <ul>
                    {NAVIGATION.filter((item) => mayOpen(user, item.needs, item.perSite)).map((
                      item,
                    ) => (
                      <li>
                        <a
                          href={item.href}
                          aria-current={item.section === props.current ? "page" : undefined}
                        >
                          {item.label}
                        </a>
                      </li>
                    ))}
                  </ul>
                </nav>
                <div class="header-end">
                  <TenantSwitch user={user} />
                  {/* A form, not a link: signing out changes state, so it must be a same-origin POST. */}
                  <form class="sign-out" method="post" action={LOGOUT_PATH}>
                    <span class="signed-in-as">{user.email}</span>
                    <Button variant="secondary">Sign out</Button>
                  </form>
                </div>
              </>
            )
            : <a class="sign-in" href="/login">Sign in</a>}
        </header>
        <main id="main">
          <Flash messages={props.flash ?? []} />
          {props.children}
        </main>
      </body>
    </html>
  )}`;
}
