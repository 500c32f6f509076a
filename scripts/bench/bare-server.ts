// The baseline: a bare `Bun.serve` replaying one captured Caddis response, byte for byte, so the
// benchmark shows what Caddis costs on top of the runtime. Usage: PORT=n bun bare-server.ts <file>
import { readFile } from "node:fs/promises";
import type { CapturedResponse } from "./capture.ts";

const file = process.argv[2];
if (!file) throw new Error("usage: PORT=<port> bun scripts/bench/bare-server.ts <capture.json>");
const captured = JSON.parse(await readFile(file, "utf8")) as CapturedResponse;
const body = new TextEncoder().encode(captured.body);
const headers = captured.headers;

Bun.serve({
  hostname: "127.0.0.1",
  port: Number(process.env.PORT),
  fetch: () => new Response(body, { status: captured.status, headers }),
});
