import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { z } from "zod";
import { createTestApp, type TestApp } from "../scripts/testing/app.ts";
import { validate } from "./validate.ts";

let t: TestApp;

// Routes that exercise the shared input and error pipeline the way every real route will.
const EchoInput = z.object({ name: z.string().min(1).max(20), count: z.number().int() }).strict();

beforeAll(async () => {
  t = await createTestApp({ env: { CADDIS_BODY_LIMIT: "4096" } });
  t.app.post("/test/echo", validate("json", EchoInput), (c) => c.json(c.req.valid("json")));
  t.app.get("/test/crash", () => {
    throw new Error("internal detail: password=hunter2 at /srv/secret/path");
  });
});
afterAll(() => t.close());

function expectSecurityHeaders(res: Response) {
  expect(res.headers.get("content-security-policy")).toStartWith("default-src 'self'");
  expect(res.headers.get("content-security-policy")).toContain("object-src 'none'");
  expect(res.headers.get("content-security-policy")).toContain("base-uri 'none'");
  expect(res.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
  expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  expect(res.headers.get("x-frame-options")).toBe("DENY");
  expect(res.headers.get("strict-transport-security")).toBe("max-age=31536000; includeSubDomains");
  expect(res.headers.get("referrer-policy")).toBe("no-referrer");
  expect(res.headers.get("x-xss-protection")).toBe("0");
}

async function errorOf(res: Response) {
  const body = (await res.json()) as {
    error: { code: string; message: string; requestId: string };
  };
  expect(body.error.requestId).toBe(res.headers.get("x-request-id") ?? "");
  return body.error;
}

describe("probes", () => {
  test("/healthz answers without touching the database", async () => {
    const res = await t.app.request("/healthz");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });

  test("/readyz reports the database reachable and every migration applied", async () => {
    const res = await t.app.request("/readyz");
    expect(res.status).toBe(200);
    const body = await res.json() as {
      status: string;
      migrations: { applied: number; shipped: number };
    };
    expect(body.status).toBe("ready");
    expect(body.migrations.applied).toBe(body.migrations.shipped);
    expect(body.migrations.shipped).toBeGreaterThan(0);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expectSecurityHeaders(res);
  });
});

describe("errors share one JSON shape and carry the security headers", () => {
  test("unknown route → 404", async () => {
    const res = await t.app.request("/api/v1/nothing-here");
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe("not_found");
    expectSecurityHeaders(res);
  });

  test("wrong method → 405 with Allow", async () => {
    const res = await t.app.request("/healthz", { method: "DELETE" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, HEAD");
    expect((await errorOf(res)).code).toBe("method_not_allowed");
    expectSecurityHeaders(res);
  });

  test("malformed JSON → 400", async () => {
    const res = await t.app.request("/test/echo", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"name": "x", ',
    });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe("bad_request");
    expectSecurityHeaders(res);
  });

  test("invalid input → 400 naming each field, without echoing values", async () => {
    const res = await t.app.request("/test/echo", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "", count: "s3cr3t-value", extra: 1 }),
    });
    expect(res.status).toBe(400);
    const body = await res.json() as { error: { code: string; fields: Record<string, string> } };
    expect(body.error.code).toBe("invalid_input");
    expect(Object.keys(body.error.fields)).toEqual(expect.arrayContaining(["name", "count"]));
    expect(JSON.stringify(body)).toContain("extra");
    expect(JSON.stringify(body)).not.toContain("s3cr3t-value");
  });

  test("valid input passes through", async () => {
    const res = await t.app.request("/test/echo", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "blog", count: 2 }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ name: "blog", count: 2 });
  });

  test("body over the limit → 413, declared by Content-Length", async () => {
    const res = await t.app.request("/test/echo", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "x".repeat(5000), count: 1 }),
    });
    expect(res.status).toBe(413);
    expect((await errorOf(res)).code).toBe("payload_too_large");
    expectSecurityHeaders(res);
  });

  test("body over the limit → 413, streamed without Content-Length", async () => {
    const chunk = new TextEncoder().encode("x".repeat(1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 10) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await t.app.request(
      new Request("http://localhost/test/echo", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        duplex: "half",
      } as RequestInit),
    );
    expect(res.status).toBe(413);
  });

  test("an unexpected error → opaque 500; the cause reaches the log, not the client", async () => {
    const res = await t.app.request("/test/crash");
    expect(res.status).toBe(500);
    const error = await errorOf(res);
    expect(error).toMatchObject({ code: "internal", message: "Internal error" });
    const raw = JSON.stringify(error);
    expect(raw).not.toContain("hunter2");
    expect(raw).not.toContain("/srv/secret");
    expectSecurityHeaders(res);
    expect(t.logText()).toContain(error.requestId);
    expect(t.logText()).toContain("internal detail");
  });
});

describe("request ids", () => {
  test("keeps a well-formed incoming X-Request-Id", async () => {
    const res = await t.app.request("/healthz", { headers: { "x-request-id": "lb-7f3a-42" } });
    expect(res.headers.get("x-request-id")).toBe("lb-7f3a-42");
  });

  test("replaces a hostile or oversized X-Request-Id", async () => {
    for (const hostile of ['a b"<script>', "x".repeat(500), "id;rm -rf /"]) {
      const res = await t.app.request("/healthz", { headers: { "x-request-id": hostile } });
      const id = res.headers.get("x-request-id") ?? "";
      expect(id).not.toBe(hostile);
      expect(id).toMatch(/^[\w-]{8,128}$/);
    }
  });
});
