// Runs autocannon in its own Node process, so the load generator never shares an event loop (or
// a runtime) with the server it measures.
import { join } from "node:path";

/** What one load run measured. */
export interface LoadResult {
  requestsPerSecond: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
}

interface AutocannonJson {
  requests: { average: number };
  latency: { p99: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}

/** A request other than a plain GET: method, headers and a body sent on every request. */
export interface LoadRequest {
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  body?: string;
}

/** Loads `url` with `connections` connections for `seconds`; throws if autocannon fails. */
export async function runLoad(
  root: string,
  url: string,
  seconds: number,
  connections = 50,
  request: LoadRequest = {},
): Promise<LoadResult> {
  const argv = [
    "node",
    join(root, "node_modules/autocannon/autocannon.js"),
    "--json",
    "-c",
    String(connections),
    "-d",
    String(seconds),
  ];
  if (request.method) argv.push("-m", request.method);
  for (const [name, value] of Object.entries(request.headers ?? {})) {
    argv.push("-H", `${name}=${value}`);
  }
  if (request.body !== undefined) argv.push("-b", request.body);
  argv.push(url);
  const proc = Bun.spawn(argv, { cwd: root, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  // Bounded: autocannon stops itself after `seconds`; this only guards against a hang.
  const timer = setTimeout(() => proc.kill("SIGKILL"), (seconds + 30) * 1000);
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  clearTimeout(timer);
  if (code !== 0) throw new Error(`autocannon failed (exit ${code}): ${stderr.slice(-2000)}`);
  const result = JSON.parse(stdout) as AutocannonJson;
  return {
    requestsPerSecond: result.requests.average,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}
