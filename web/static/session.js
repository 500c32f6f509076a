// Renews an expired sign-in without asking for the password again. The access cookie lasts 30
// minutes; the refresh cookie is sent only to the refresh endpoint, so the server cannot see it
// when a page loads and sends the browser to /login?next=… instead. This script then tries the
// refresh cookie once and, if it still works, goes back to `next`.
//
// It cannot loop: a tab tries at most once a minute (sessionStorage), so a refresh that succeeds
// without making the next page signed in leaves the browser on the login form. Tabs take turns
// (Web Locks), because presenting the same refresh token twice counts as token theft and signs
// the whole session out.
(() => {
  const form = document.querySelector("form[data-try-refresh]");
  if (!form) return;
  const next = safeNextPath(form.getAttribute("data-next"));
  if (!next) return;

  const TRIED_KEY = "caddis.refreshTriedAt";
  const RETRY_AFTER_MS = 60_000;
  try {
    const last = Number(sessionStorage.getItem(TRIED_KEY));
    if (last > 0 && Date.now() - last < RETRY_AFTER_MS) return;
    sessionStorage.setItem(TRIED_KEY, String(Date.now()));
  } catch {
    // Without storage there is no loop guard, so do not try at all.
    return;
  }

  const tryRefresh = () =>
    fetch("/api/v1/auth/refresh", { method: "POST", credentials: "same-origin" })
      .then((response) => {
        if (response.ok) location.replace(next);
      })
      .catch(() => {});
  if (navigator.locks) navigator.locks.request("caddis.refresh", tryRefresh);
  else tryRefresh();

  // The same rules as web/next-path.ts: a path on this site, nothing a browser could read as
  // another host (`//host`, `/\host`, whitespace it would strip, or a path normalising to those).
  function safeNextPath(raw) {
    if (!raw || raw.length > 1024 || !isPlainPath(raw)) return undefined;
    let url;
    try {
      url = new URL(raw, location.origin);
    } catch {
      return undefined;
    }
    if (url.origin !== location.origin) return undefined;
    const normalised = url.pathname + url.search + url.hash;
    return isPlainPath(normalised) ? normalised : undefined;
  }

  function isPlainPath(path) {
    // deno-lint-ignore no-control-regex -- control characters are exactly what must be refused.
    return /^\/(?![/\\])/.test(path) && !/[\\\s\u0000-\u001f\u007f]/.test(path);
  }
})();
