// The panel as a site of its own host's Caddy: when CADDIS_PUBLIC_URL names a domain, the host the
// API runs on (the local host) proxies that domain to the API, and no user site may take it.
import { DOMAIN_PATTERN } from "../../agent/protocol/sites.ts";
import type { Config } from "../config.ts";
import { AppError } from "../errors.ts";

/** The domain in CADDIS_PUBLIC_URL, or null for an address or `localhost` (development). */
export function panelDomain(config: Pick<Config, "publicUrl">): string | null {
  const domain = new URL(config.publicUrl).hostname.toLowerCase();
  const topLevel = domain.split(".").at(-1) ?? "";
  return DOMAIN_PATTERN.test(domain) && /^[a-z]/.test(topLevel) ? domain : null;
}

/** The panel's domain and the API's port, or null when Caddy has nothing to serve for it. */
export function panelSite(
  config: Pick<Config, "publicUrl" | "port">,
): { domain: string; apiPort: number } | null {
  const domain = panelDomain(config);
  // Port 0 picks a free port at start, which the configuration does not know.
  return domain === null || config.port === 0 ? null : { domain, apiPort: config.port };
}

/** Refuses site names that include the panel's own domain: the panel's host serves it already. */
export function refusePanelDomain(config: Pick<Config, "publicUrl">, domains: string[]): void {
  const reserved = panelDomain(config);
  if (reserved !== null && domains.includes(reserved)) {
    throw new AppError("conflict", `The domain "${reserved}" is the panel's own address`);
  }
}
