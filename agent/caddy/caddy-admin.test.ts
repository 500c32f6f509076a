import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmod, stat } from "node:fs/promises";
import { join } from "node:path";
import { currentConfig, isCaddyUp, loadCaddyfile, restrictAdminSocket } from "./caddy-admin.ts";
import { MAX_CADDY_ERROR_CHARS } from "./caddy-check.ts";
import { tempDir } from "../test-fixtures.ts";

// A stand-in that answers like Caddy's admin API, to pin down what the client sends and how it
// reads refusals; caddy-config.test.ts drives the same client against a real Caddy.
interface Seen {
  method: string;
  path: string;
  host: string | null;
  contentType: string | null;
  body: string;
}

let dir: string;
let remove: () => Promise<void>;
let socket: string;
let server: ReturnType<typeof Bun.serve> | null;
let seen: Seen[];
let answer: () => Response;

beforeEach(async () => {
  ({ dir, remove } = await tempDir("caddy-admin"));
  socket = join(dir, "admin.sock");
  seen = [];
  answer = () => Response.json({ admin: { listen: `unix/${socket}` } });
  server = Bun.serve({
    unix: socket,
    async fetch(request) {
      seen.push({
        method: request.method,
        // With an empty Host header Bun's server sees only the path as the URL.
        path: new URL(request.url, "http://unused").pathname,
        host: request.headers.get("host"),
        contentType: request.headers.get("content-type"),
        body: await request.text(),
      });
      return answer();
    },
  });
});
afterEach(async () => {
  await server?.stop(true);
  server = null;
  await remove();
});

describe("caddy admin client", () => {
  test("posts the Caddyfile to /load with an empty Host header and its content type", async () => {
    await loadCaddyfile(socket, ":8080 {\n\trespond hi\n}\n");
    expect(seen).toEqual([{
      method: "POST",
      path: "/load",
      host: "",
      contentType: "text/caddyfile",
      body: ":8080 {\n\trespond hi\n}\n",
    }]);
  });

  test("a refused load throws with Caddy's own message", async () => {
    answer = () =>
      Response.json({ error: "  adapting config: Caddyfile:2: unrecognized directive: x \n" }, {
        status: 400,
      });
    await expect(loadCaddyfile(socket, "x")).rejects.toThrow(
      /^Caddy refused the config: adapting config: Caddyfile:2: unrecognized directive: x$/,
    );
  });

  test("a long or non-JSON refusal is cut to the error limit", async () => {
    answer = () => new Response(`oops ${"y".repeat(10_000)}`, { status: 500 });
    const error = await loadCaddyfile(socket, "x").catch((err: Error) => err);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toStartWith("Caddy refused the config: oops yyy");
    expect((error as Error).message.length).toBe(MAX_CADDY_ERROR_CHARS);
  });

  test("reads the running config and reports Caddy up", async () => {
    expect(await currentConfig(socket)).toEqual({ admin: { listen: `unix/${socket}` } });
    expect(await isCaddyUp(socket)).toBe(true);
    expect(seen.map((request) => [request.method, request.path, request.host])).toEqual([
      ["GET", "/config/", ""],
      ["GET", "/config/", ""],
    ]);
  });

  test("a Caddy that answers 403 is not up", async () => {
    answer = () => Response.json({ error: "host not allowed: caddy-admin" }, { status: 403 });
    expect(await isCaddyUp(socket)).toBe(false);
    await expect(currentConfig(socket)).rejects.toThrow("host not allowed: caddy-admin");
  });

  test("a missing socket is down, and a load there names the socket", async () => {
    const missing = join(dir, "missing.sock");
    expect(await isCaddyUp(missing)).toBe(false);
    await expect(loadCaddyfile(missing, "x")).rejects.toThrow(
      `Caddy's admin socket ${missing} did not answer /load`,
    );
  });

  test("restrictAdminSocket leaves the socket to its owner, still answering", async () => {
    await chmod(socket, 0o777);
    await restrictAdminSocket(socket);
    expect((await stat(socket)).mode & 0o777).toBe(0o600);
    expect(await isCaddyUp(socket)).toBe(true);
  });
});
