import type { Server } from "bun";
import type { TestApp } from "./app.ts";

/** The budgets the issue asks for, spelled out so a test harness default cannot change them. */
export const ISSUE_RATE_LIMITS =
  "api=60/min,1000/hour;auth=10/min,100/hour;pages=300/min,5000/hour";

/** Serves the test app on a real socket, so the client address is the TCP peer. */
export function serveRateLimited(t: TestApp): { server: Server<undefined>; url: string } {
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: t.app.fetch });
  return { server, url: `http://127.0.0.1:${server.port}` };
}
