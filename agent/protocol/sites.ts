// What a host is told about its sites, and the allowlists every site value must pass. The API
// validates user input against these before storing it; the agent checks them again before a
// value reaches a Caddyfile, a path or a command line, so neither side trusts the other's checks.
import { z } from "zod";

/** One DNS label as Caddy and DNS accept it: letters, digits, inner hyphens, 1–63 characters. */
const LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";

/**
 * A domain after IDNA conversion: lowercase ASCII LDH labels, at least two, no trailing dot, no
 * wildcard, at most 253 characters. Nothing in it can open a Caddy block, placeholder or comment.
 */
export const DOMAIN_PATTERN = new RegExp(`^(?=.{1,253}$)${LABEL}(?:\\.${LABEL})+$`);

/**
 * A path inside a site's release: segments of letters, digits, `.`, `_` and `-`, joined by `/`,
 * never `.` or `..` alone, never starting with `-` (which a command would read as an option),
 * never absolute. The empty string is the release root.
 */
export const RELATIVE_PATH_PATTERN =
  /^(?:(?!\.{1,2}(?:\/|$)|-)[A-Za-z0-9._-]{1,255}(?:\/(?!\.{1,2}(?:\/|$)|-)[A-Za-z0-9._-]{1,255})*)?$/;

/** An environment variable name a worker may receive. */
export const ENV_NAME_PATTERN = /^[A-Z_][A-Z0-9_]{0,127}$/;

/** A site's system user on the host: short, lowercase, never a name a shell or Caddy reads. */
export const SITE_USER_PATTERN = /^[a-z_][a-z0-9_-]{0,31}$/;

/** How a site's PHP is served: FrankenPHP in production, PHP's built-in server without it. */
export const SITE_RUNTIMES = ["frankenphp", "php-cli"] as const;
export const SiteRuntime = z.enum(SITE_RUNTIMES);
export type SiteRuntime = z.infer<typeof SiteRuntime>;

/**
 * Worker ports come in pairs: a site is given `port` (even) and also owns `port + 1`, so a restart
 * can start the new worker on the other one before the old one stops. These bound `port`.
 */
export const WORKER_PORT_BOUNDS = { min: 1024, max: 65_534 } as const;

const RelativePath = z.string().max(1024).regex(RELATIVE_PATH_PATTERN);

/** One site as its host must run it. */
export const DesiredSite = z.object({
  id: z.string().regex(/^site_[A-Za-z0-9]{1,60}$/),
  /** The primary domain first, then aliases; all already IDNA-converted. */
  domains: z.array(z.string().regex(DOMAIN_PATTERN)).min(1).max(100),
  runtime: SiteRuntime,
  /** The document root inside the site's current release. */
  docroot: RelativePath,
  /** FrankenPHP worker mode's script inside the release; null serves PHP files classically. */
  workerScript: RelativePath.min(1).nullable(),
  /** The worker's pair of ports on 127.0.0.1: this one (even) and the next. */
  port: z.number().int().min(WORKER_PORT_BOUNDS.min).max(WORKER_PORT_BOUNDS.max)
    .refine((port) => port % 2 === 0, "must be even: ports come in pairs"),
  user: z.string().regex(SITE_USER_PATTERN),
  /** Passed to the worker's environment, never on argv; values are secrets. */
  env: z.record(z.string().regex(ENV_NAME_PATTERN), z.string().max(32_768)),
  /** A stopped site keeps its files and port but runs no worker and is not served. */
  enabled: z.boolean(),
}).strict();
export type DesiredSite = z.infer<typeof DesiredSite>;

/** Where a site stands on its host, as the agent last saw it. */
export const SITE_STATUSES = ["pending", "running", "failed", "stopped"] as const;
export const SiteStatus = z.enum(SITE_STATUSES);
export type SiteStatus = z.infer<typeof SiteStatus>;

/** One site's state, reported with the observed state and whenever it changes. */
export const ObservedSite = z.object({
  id: DesiredSite.shape.id,
  status: SiteStatus,
  /** The port its serving worker listens on (one of the pair), null while none serves. */
  port: z.number().int().min(1).max(65_535).nullable(),
  /** Why it is failed or pending: the last stderr lines of a crashing worker, say. */
  lastError: z.string().max(8000).nullable(),
}).strict();
export type ObservedSite = z.infer<typeof ObservedSite>;

const port = z.number().int().min(1).max(65_535);

/** How a host serves sites, sent in `hello`: Caddy's ports, and where site files live. */
export const HostWeb = z.object({
  /** 80 in system mode; a high port in sandbox mode. */
  httpPort: port,
  /** 443 in system mode; null when the host serves plain HTTP only (sandbox mode). */
  httpsPort: port.nullable(),
  /** Absolute; each site's files are in `<sitesDir>/<site id>/`. */
  sitesDir: z.string().regex(/^\/[A-Za-z0-9._\/-]{0,4095}$/),
}).strict();
export type HostWeb = z.infer<typeof HostWeb>;
