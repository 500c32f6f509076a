// The identity figures of `npm run bench`: argon2id alone, login throughput, and an
// authenticated request (JWT verify + prepared session check) against the /readyz baseline.
import { hashPassword } from "../../api/auth/passwords.ts";
import { type LoadResult, runLoad } from "./autocannon.ts";
import { outputTail, type ServerProcess } from "./server-process.ts";

const BENCH_EMAIL = "bench@example.com";
// Benchmark-only credentials for a throwaway data dir; not a secret anywhere.
const BENCH_PASSWORD = "bench-lantern-quarry-58";

/** Median milliseconds of one argon2id hash with Caddis's parameters, in this process (Bun). */
export async function argon2Millis(samples = 15): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const started = performance.now();
    await hashPassword(`${BENCH_PASSWORD}-${i}`);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? 0;
}

/** Completes first-run setup on a fresh server through its printed link; returns an access token. */
export async function setupBenchUser(server: ServerProcess): Promise<string> {
  const match = /\/setup\?token=([a-z0-9]+)/.exec(outputTail(server, 200));
  if (!match?.[1]) throw new Error("the server did not print a setup link");
  const res = await fetch(`${server.url}/api/v1/setup`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      token: match[1],
      email: BENCH_EMAIL,
      password: BENCH_PASSWORD,
      tenantName: "Bench",
    }),
  });
  if (res.status !== 201) throw new Error(`setup failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { accessToken: string }).accessToken;
}

/** Authenticated `GET /api/v1/auth/me` under the same load as the baseline. */
export function loadMe(
  root: string,
  server: ServerProcess,
  token: string,
  seconds: number,
  connections: number,
): Promise<LoadResult> {
  return runLoad(root, `${server.url}/api/v1/auth/me`, seconds, connections, {
    headers: { authorization: `Bearer ${token}` },
  });
}

/** Successful logins; few connections, since each one is a ~70 ms argon2id verify. */
export function loadLogin(
  root: string,
  server: ServerProcess,
  seconds: number,
): Promise<LoadResult> {
  return runLoad(root, `${server.url}/api/v1/auth/login`, seconds, 4, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: BENCH_EMAIL, password: BENCH_PASSWORD }),
  });
}
