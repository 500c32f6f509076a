// Whether a worker serves HTTP. Any answer below 500 counts as healthy: a 404 (no index file),
// a 403 or a redirect to a login page all prove PHP is up and serving; a 5xx means the runtime
// answers but cannot run the site, which a restart may fix and an operator should see.

/** How long one health request may take. */
export const HEALTH_TIMEOUT_MS = 2_000;

/** GET http://127.0.0.1:<port>/ answered with a status below 500 within the time limit. */
export async function checkWorkerHealth(
  port: number,
  timeoutMs = HEALTH_TIMEOUT_MS,
): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/`, {
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel();
    return response.status < 500;
  } catch {
    return false; // refused, reset or timed out: not serving (yet)
  }
}
