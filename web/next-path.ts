// Where to send a browser after it signs in. `next` comes from the query string, so it is
// attacker-controlled: only a path on this site may pass, or the login page becomes an open
// redirect. web/static/session.js repeats these rules for the refresh round trip.

// Any origin works: the parsed result is only compared against it.
const PROBE_ORIGIN = "http://caddis.invalid";
const MAX_LENGTH = 1024;

/**
 * `raw` when it is a same-site relative path (`/account?tab=2`), else undefined. Refuses `//host`
 * and `/\host` (browsers read both as another host), backslashes, whitespace and control
 * characters (browsers strip tabs and newlines, turning `/\t/host` into `//host`), and anything
 * that normalises into one of those, such as `/.//host`.
 */
export function safeNextPath(raw: string | undefined | null): string | undefined {
  if (!raw || raw.length > MAX_LENGTH || !isPlainPath(raw)) return undefined;
  let url: URL;
  try {
    url = new URL(raw, PROBE_ORIGIN);
  } catch {
    return undefined;
  }
  if (url.origin !== PROBE_ORIGIN) return undefined;
  const normalised = `${url.pathname}${url.search}${url.hash}`;
  return isPlainPath(normalised) ? normalised : undefined;
}

function isPlainPath(path: string): boolean {
  // deno-lint-ignore no-control-regex -- control characters are exactly what must be refused.
  return /^\/(?![/\\])/.test(path) && !/[\\\s\u0000-\u001f\u007f]/.test(path);
}

/**
 * The login URL that returns to `next` afterwards (`/login` alone when `next` is not safe). Pages
 * send signed-out browsers here; a `next` also tells the login page to try the refresh cookie.
 */
export function loginUrl(next?: string): string {
  const safe = safeNextPath(next);
  return safe ? `/login?next=${encodeURIComponent(safe)}` : "/login";
}
