import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { checkCaddyfile } from "./caddy-check.ts";
import { tempDir } from "../test-fixtures.ts";
import { testWithTools } from "../../scripts/testing/tools.ts";

setDefaultTimeout(30_000);

const TESTDATA = join(import.meta.dir, "testdata");
const goldenFiles = (await readdir(TESTDATA)).filter((name) => name.endsWith(".Caddyfile")).sort();
const caddyPath = Bun.which("caddy") ?? "caddy";

// Caddy leaves a `.step` directory in its HOME (the temp dir); only the checked file must go.
const checkFiles = async () => (await readdir(dir)).filter((name) => name.startsWith("Caddyfile"));

let dir: string;
let remove: () => Promise<void>;
beforeEach(async () => ({ dir, remove } = await tempDir("caddy-check")));
afterEach(() => remove());

describe("checkCaddyfile", () => {
  testWithTools(["caddy"], "Caddy accepts every golden file", async () => {
    expect(goldenFiles.length).toBe(4);
    for (const name of goldenFiles) {
      const result = await checkCaddyfile(await readFile(join(TESTDATA, name), "utf8"), {
        caddyPath,
        tempDir: dir,
      });
      expect({ name, ok: result.ok, error: result.ok ? null : result.error }).toEqual({
        name,
        ok: true,
        error: null,
      });
      if (result.ok) expect(JSON.parse(result.json)).toHaveProperty("admin.listen");
    }
  });

  testWithTools(["caddy"], "every golden file is already in caddy fmt's layout", async () => {
    for (const name of goldenFiles) {
      const path = join(TESTDATA, name);
      const fmt = Bun.spawnSync([caddyPath, "fmt", path], { stdout: "pipe", stderr: "pipe" });
      expect({ name, exit: fmt.exitCode }).toEqual({ name, exit: 0 });
      expect(fmt.stdout.toString()).toBe(await readFile(path, "utf8"));
    }
  });

  testWithTools(["caddy"], "a refused config returns Caddy's reason, naming the line", async () => {
    const text = "http://a.example.com:8080 {\n\tnot_a_directive\n}\n";
    const result = await checkCaddyfile(text, { caddyPath, tempDir: dir });
    expect(result).toEqual({
      ok: false,
      error: "Caddyfile:2: unrecognized directive: not_a_directive",
    });
    expect(await checkFiles()).toEqual([]);
  });

  testWithTools(["caddy"], "two sites claiming one address are refused", async () => {
    const block = "http://a.example.com:8080 {\n\trespond hi\n}\n";
    const result = await checkCaddyfile(block + block, { caddyPath, tempDir: dir });
    expect(result).toEqual({
      ok: false,
      error: "ambiguous site definition: http://a.example.com:8080",
    });
  });

  testWithTools(["caddy"], "an accepted config leaves no file behind", async () => {
    const result = await checkCaddyfile("http://a.example.com:8080 {\n\trespond hi\n}\n", {
      caddyPath,
      tempDir: dir,
    });
    expect(result.ok).toBe(true);
    expect(await checkFiles()).toEqual([]);
  });

  test("a missing caddy binary is a refusal, not a throw", async () => {
    const result = await checkCaddyfile("", { caddyPath: "/nonexistent/caddy", tempDir: dir });
    expect(result.ok).toBe(false);
    expect(result.ok ? "" : result.error).toStartWith("cannot run /nonexistent/caddy: it was not");
  });
});
