import { describe, expect, test } from "bun:test";
import { freePort } from "../../scripts/testing/ports.ts";
import { checkWorkerHealth } from "./health-check.ts";

function serve(handler: () => Response | Promise<Response>) {
  return Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: handler });
}

describe("checkWorkerHealth", () => {
  test("any answer below 500 is healthy, including 404 and a redirect", async () => {
    for (const status of [200, 302, 403, 404]) {
      const server = serve(() => new Response("x", { status, headers: { location: "/login" } }));
      try {
        expect(await checkWorkerHealth(server.port!)).toBe(true);
      } finally {
        await server.stop(true);
      }
    }
  });

  test("a 5xx answer is unhealthy", async () => {
    const server = serve(() => new Response("boom", { status: 502 }));
    try {
      expect(await checkWorkerHealth(server.port!)).toBe(false);
    } finally {
      await server.stop(true);
    }
  });

  test("a refused connection and a hung answer are unhealthy", async () => {
    expect(await checkWorkerHealth(freePort())).toBe(false);
    let release!: () => void;
    const server = serve(() =>
      new Promise<Response>((resolve) => release = () => resolve(new Response("late")))
    );
    try {
      expect(await checkWorkerHealth(server.port!, 100)).toBe(false);
    } finally {
      release();
      await server.stop(true);
    }
  });
});
