// `npm run check`: every static check CI runs, in order. All steps run even after a failure, so
// one pass reports every problem; the exit code is 1 if any step failed.
import { mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { isTestFile, listSourceFiles } from "./check-boundaries.ts";

const ROOT = resolve(import.meta.dir, "..");
const bin = (tool: string) => join(ROOT, "node_modules/.bin", tool);

// Generated migrations and vendored files are not ours to format; the rest mirrors check-boundaries.
const DENO_IGNORES = "node_modules,data,.cache,db/migrations,web/static/vendor";
const LINE_WIDTH = "100";

/** One check: a command run from the repository root, with optional setup and cleanup. */
interface Step {
  name: string;
  argv: () => string[] | Promise<string[]>;
  cleanup?: () => Promise<void>;
}

/** The runtime-neutral files that must type-check under Deno, plus the Deno entry file. */
export async function denoCheckedFiles(root: string): Promise<string[]> {
  const files = await listSourceFiles(root);
  return files.filter((path) =>
    !isTestFile(path) &&
    (/^(api|web|db|agent\/protocol)\//.test(path)) &&
    path !== "api/main-bun.ts" &&
    path !== "db/drizzle.config.ts"
  );
}

// tsconfig.json declares `types: ["bun"]` for tsc, and Deno honours a tsconfig it finds beside
// package.json, which would let `Bun.*` type-check in neutral code. So `deno check` runs from a
// throwaway workspace: a deno.json carrying only tsconfig's strictness options, with package.json
// and node_modules linked in so npm packages still resolve from the local node_modules.
async function denoCheckWorkspace(root: string): Promise<string> {
  const tsconfig = JSON.parse(await readFile(join(root, "tsconfig.json"), "utf8")) as {
    compilerOptions?: Record<string, unknown>;
  };
  const strictness = Object.entries(tsconfig.compilerOptions ?? {}).filter(([key]) =>
    /^(strict|no[A-Z]|exactOptionalPropertyTypes|verbatimModuleSyntax|useUnknownInCatch|jsx)/
      .test(key) && key !== "noEmit"
  );
  const dir = await mkdtemp(join(tmpdir(), "caddis-deno-check-"));
  const config = { compilerOptions: Object.fromEntries(strictness) };
  await writeFile(join(dir, "deno.json"), JSON.stringify(config, null, 2));
  await symlink(join(root, "package.json"), join(dir, "package.json"));
  await symlink(join(root, "node_modules"), join(dir, "node_modules"), "dir");
  return dir;
}

let workspace: string | undefined;
const STEPS: Step[] = [
  { name: "tsc", argv: () => [bin("tsc"), "--noEmit", "-p", "."] },
  {
    name: "deno check",
    argv: async () => {
      workspace = await denoCheckWorkspace(ROOT);
      const config = join(workspace, "deno.json");
      const files = await denoCheckedFiles(ROOT);
      return [bin("deno"), "check", "--config", config, "--node-modules-dir=manual", "--no-lock"]
        .concat(files);
    },
    cleanup: async () => {
      if (workspace) await rm(workspace, { recursive: true, force: true });
    },
  },
  {
    name: "deno fmt",
    argv: () => [
      bin("deno"),
      "fmt",
      "--check",
      `--line-width=${LINE_WIDTH}`,
      `--ignore=${DENO_IGNORES}`,
    ],
  },
  // jsx-key guards client-side reconciliation; hono/jsx renders to a string on the server.
  {
    name: "deno lint",
    argv: () => [bin("deno"), "lint", "--rules-exclude=jsx-key", `--ignore=${DENO_IGNORES}`],
  },
  { name: "boundaries", argv: () => [bin("bun"), "scripts/check-boundaries.ts"] },
];

/** Runs one step with its output streamed through; returns its exit code. */
async function runStep(step: Step): Promise<number> {
  try {
    const argv = await step.argv();
    const proc = Bun.spawn(argv, {
      cwd: ROOT,
      stdio: ["ignore", "inherit", "inherit"],
      env: {
        ...process.env,
        DENO_NO_UPDATE_CHECK: "1",
        DENO_NO_PROMPT: "1",
        // Deno colours even into a pipe; CI logs read better without escape codes.
        ...(process.stdout.isTTY ? {} : { NO_COLOR: "1" }),
      },
    });
    return await proc.exited;
  } catch (err) {
    console.error(`${step.name}: could not run: ${(err as Error).message}`);
    return 127;
  } finally {
    await step.cleanup?.();
  }
}

if (import.meta.main) {
  const results: { name: string; code: number; seconds: number }[] = [];
  for (const step of STEPS) {
    console.log(`\n==> ${step.name}`);
    const started = performance.now();
    const code = await runStep(step);
    const seconds = (performance.now() - started) / 1000;
    results.push({ name: step.name, code, seconds });
    console.log(
      `<== ${step.name}: ${code === 0 ? "ok" : `FAILED (exit ${code})`} in ${seconds.toFixed(1)} s`,
    );
  }
  console.log("\ncheck summary:");
  for (const r of results) {
    console.log(
      `  ${r.code === 0 ? "ok  " : "FAIL"}  ${r.name.padEnd(12)} ${r.seconds.toFixed(1)} s`,
    );
  }
  const failed = results.filter((r) => r.code !== 0).map((r) => r.name);
  console.log(failed.length === 0 ? "all checks passed" : `failed: ${failed.join(", ")}`);
  process.exit(failed.length === 0 ? 0 : 1);
}
