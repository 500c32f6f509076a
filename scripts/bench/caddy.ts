// The Caddy part of `npm run bench`: how long rendering the Caddyfile takes for 1 to 10,000 sites,
// and how long a whole apply (render → `caddy adapt` check → atomic write → load over the admin
// socket) takes for 1,000 and 5,000 sites, next to Caddy's own `adapt` plus `/load` of the very
// same text measured in the same run. Caddy runs in a temp dir on 127.0.0.1, in sandbox mode.
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isCaddyUp, loadCaddyfile } from "../../agent/caddy/caddy-admin.ts";
import { checkCaddyfile } from "../../agent/caddy/caddy-check.ts";
import { applyCaddyConfig, caddyfilePaths } from "../../agent/caddy/caddy-config.ts";
import {
  type CaddyRenderInput,
  type CaddySite,
  renderCaddyfile,
} from "../../agent/caddy/render-caddyfile.ts";
import { writeFileAtomic } from "../../agent/atomic-write.ts";
import { freePort } from "./server-process.ts";

const RENDER_SIZES = [1, 100, 1_000, 10_000];
const APPLY_SIZES = [1_000, 5_000];
// Renders are cheap: the median of this many, after as many warm-up runs.
const RENDER_RUNS = 15;
// Applies take seconds at 5,000 sites: the median of this many, alternating with the baseline.
const APPLY_RUNS = 3;
const CADDY_START_MS = 15_000;

/** One row of the Caddy table. */
export interface CaddyFigure {
  what: string;
  sites: number;
  medianMs: number;
  baselineMs: number | null;
  baseline: string;
}

function sitesOf(count: number): CaddySite[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `site_bench${i.toString().padStart(6, "0")}`,
    domains: [`s${i}.bench.test`, `www.s${i}.bench.test`],
    upstreams: [20_000 + 2 * (i % 20_000)],
  }));
}

const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function timed(run: () => Promise<unknown> | unknown): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

async function startCaddy(
  caddyPath: string,
  dir: string,
  input: CaddyRenderInput,
  template: string,
) {
  const file = caddyfilePaths(dir).current;
  await writeFileAtomic(file, renderCaddyfile(template, input), 0o600);
  const home = join(dir, "home");
  await mkdir(home, { recursive: true });
  const proc = Bun.spawn([caddyPath, "run", "--config", file, "--adapter", "caddyfile"], {
    env: { PATH: process.env.PATH ?? "", HOME: home, XDG_DATA_HOME: home, XDG_CONFIG_HOME: home },
    stdout: "ignore",
    stderr: "ignore",
  });
  const deadline = performance.now() + CADDY_START_MS;
  while (!(await isCaddyUp(input.adminSocket))) {
    if (performance.now() > deadline || proc.exitCode !== null) {
      proc.kill("SIGKILL");
      throw new Error("caddy did not start for the benchmark");
    }
    await Bun.sleep(50);
  }
  return proc;
}

// The targets, printed beside the figures.
const TARGETS: Record<string, { sites: number; ms: number }> = {
  render: { sites: 10_000, ms: 50 },
  apply: { sites: 1_000, ms: 1_000 },
};

/** Prints the Caddy figures as one table, with the targets they are held to. */
export function printCaddyTable(figures: CaddyFigure[]): void {
  console.log("\nCaddy: median ms (baseline measured in the same run)");
  console.log("| what | sites | Caddis ms | baseline | baseline ms | target |");
  console.log("|---|---:|---:|---|---:|---|");
  for (const figure of figures) {
    const kind = figure.what.split(" ")[0] ?? "";
    const target = TARGETS[kind];
    const goal = target && target.sites === figure.sites
      ? `< ${target.ms} ms: ${figure.medianMs < target.ms ? "met" : "MISSED"}`
      : "";
    console.log(
      `| ${figure.what} | ${figure.sites} | ${figure.medianMs.toFixed(1)} | ${
        figure.baseline || "—"
      } | ${figure.baselineMs?.toFixed(1) ?? "—"} | ${goal} |`,
    );
  }
}

/** Runs the Caddy benchmark; returns its rows (and prints them as they come). */
export async function runCaddyBench(root: string): Promise<CaddyFigure[]> {
  const caddyPath = Bun.which("caddy");
  if (!caddyPath) throw new Error("caddy is not installed (apt-get install caddy)");
  const template = await readFile(join(root, "Caddyfile.template"), "utf8");
  const dir = await mkdtemp(join(tmpdir(), "caddis-bench-caddy-"));
  const figures: CaddyFigure[] = [];
  const add = (figure: CaddyFigure) => {
    figures.push(figure);
    const base = figure.baselineMs === null
      ? ""
      : `; ${figure.baseline}: ${figure.baselineMs.toFixed(1)} ms`;
    console.log(`  ${figure.what} ${figure.sites} sites: ${figure.medianMs.toFixed(1)} ms${base}`);
  };
  try {
    await mkdir(join(dir, "run"), { mode: 0o700 });
    await mkdir(join(dir, "logs"));
    const input = (sites: CaddySite[]): CaddyRenderInput => ({
      adminSocket: join(dir, "run", "admin.sock"),
      mode: "sandbox",
      httpPort,
      httpsPort: null,
      logDir: join(dir, "logs"),
      panel: null,
      sites,
    });
    const httpPort = await freePort();
    console.log("bench: Caddyfile rendering and applying (Caddy in sandbox mode on 127.0.0.1)");
    for (const size of RENDER_SIZES) {
      const rendered = input(sitesOf(size));
      const runs: number[] = [];
      for (let i = 0; i < RENDER_RUNS * 2; i++) {
        const ms = await timed(() => renderCaddyfile(template, rendered));
        if (i >= RENDER_RUNS) runs.push(ms);
      }
      add({ what: "render", sites: size, medianMs: median(runs), baselineMs: null, baseline: "" });
    }
    const caddy = await startCaddy(caddyPath, dir, input([]), template);
    try {
      for (const size of APPLY_SIZES) {
        const applied = input(sitesOf(size));
        const text = renderCaddyfile(template, applied);
        const ours: number[] = [];
        const theirs: number[] = [];
        for (let i = 0; i < APPLY_RUNS; i++) {
          // Back to an empty config first, so every load replaces the same amount of work.
          await loadCaddyfile(applied.adminSocket, renderCaddyfile(template, input([])));
          theirs.push(
            await timed(async () => {
              const checked = await checkCaddyfile(text, { caddyPath, tempDir: dir });
              if (!checked.ok) throw new Error(checked.error);
              await loadCaddyfile(applied.adminSocket, text);
            }),
          );
          await loadCaddyfile(applied.adminSocket, renderCaddyfile(template, input([])));
          ours.push(
            await timed(async () => {
              const result = await applyCaddyConfig(applied, { template, caddyPath, dir });
              if (!result.applied) throw new Error(`${result.stage}: ${result.error}`);
            }),
          );
        }
        add({
          what: "apply (render, adapt, write, load)",
          sites: size,
          medianMs: median(ours),
          baselineMs: median(theirs),
          baseline: "caddy adapt + /load of the same text",
        });
      }
    } finally {
      caddy.kill("SIGTERM");
      await caddy.exited;
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return figures;
}
