/** @jsxImportSource hono/jsx */
import type { Child } from "hono/jsx";
import { html } from "hono/html";
import { LOGOUT_PATH } from "../api/auth/cookies.ts";
import { type AssetName, assets } from "./assets.ts";
import { Button, Flash, type FlashMessage } from "./components.tsx";

/** The top-level sections of the panel, one per navigation link. */
export type NavSection = "dashboard" | "audit" | "account";

// Only pages that exist (sites, hosts and users arrive with their features), and only those the
// user may open: the audit log is for superusers until roles grant `audit.read`.
const NAVIGATION: { section: NavSection; label: string; href: string; superuser?: true }[] = [
  { section: "dashboard", label: "Dashboard", href: "/" },
  { section: "audit", label: "Audit", href: "/audit", superuser: true },
  { section: "account", label: "Account", href: "/account" },
];

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
  user?: { email: string; isSuperuser?: boolean };
  /** Scripts beyond htmx this page needs, from web/static, always deferred. */
  scripts?: AssetName[];
  children: Child;
}) {
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
          {props.user
            ? (
              <>
                <nav aria-label="Main">
                  <ul>
                    {NAVIGATION.filter((item) => !item.superuser || props.user?.isSuperuser).map((
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
                {/* A form, not a link: signing out changes state, so it must be a same-origin POST. */}
                <form class="sign-out" method="post" action={LOGOUT_PATH}>
                  <span class="signed-in-as">{props.user.email}</span>
                  <Button variant="secondary">Sign out</Button>
                </form>
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
