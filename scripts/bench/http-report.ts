// The HTTP table of `npm run bench`: requests/second and p99 of each target against the bare
// Bun.serve replaying the same bytes.
import type { LoadResult } from "./autocannon.ts";

/** One measured target. */
export interface Row {
  target: string;
  result: LoadResult;
}

/** Prints the HTTP figures, each against the bare Bun.serve baseline, and how to read them. */
export function printHttpTable(
  rows: Row[],
  run: { connections: number; seconds: number; warmup: number },
) {
  const baseline = rows.find((row) => row.target.startsWith("bare"))?.result.requestsPerSecond;
  console.log(
    `\nGET, ${run.connections} connections, ${run.seconds} s each after ${run.warmup} s warm-up:`,
  );
  console.log(
    `  ${"target".padEnd(34)} ${"req/s".padStart(9)} ${"p99 ms".padStart(8)} ${
      "vs bare".padStart(8)
    }  bad`,
  );
  for (const { target, result } of rows) {
    const ratio = baseline ? `${(result.requestsPerSecond / baseline).toFixed(2)}x` : "-";
    const bad = result.non2xx + result.errors;
    console.log(
      `  ${target.padEnd(34)} ${Math.round(result.requestsPerSecond).toString().padStart(9)} ${
        String(result.p99Ms).padStart(8)
      } ${ratio.padStart(8)}  ${bad > 0 ? `${bad} non-2xx/errors` : "0"}`,
    );
  }
  console.log(
    "\nReference (ARCHITECTURE §12, wrk, 50 connections, hello world): bare Bun.serve ~88k, " +
      "Hono on Bun ~87k, Hono on Deno ~86k req/s.\nautocannon runs on Node and shares the 2 " +
      "cores with the server, so it may be the bottleneck for the fast targets; compare ratios " +
      "within one run, not absolute figures across tools.",
  );
}
