// Bringing the running Caddy to a new config: render, check with `caddy adapt`, write the file,
// load the JSON it adapted to through the admin socket. A failure at any stage is a returned value, and Caddy keeps
// serving the last config that loaded (a refused /load leaves the old one running), which is
// also kept on disk as `Caddyfile.last-good` for Caddy to start from.
import { join } from "node:path";
import { writeFileAtomic } from "../atomic-write.ts";
import { loadCaddyJson, restrictAdminSocket } from "./caddy-admin.ts";
import { type CaddyCheckResult, checkCaddyfile } from "./caddy-check.ts";
import { type CaddyRenderInput, renderCaddyfile } from "./render-caddyfile.ts";

/** Where an apply failed: rendering (a value refused), checking, writing or loading. */
export type CaddyApplyStage = "render" | "check" | "write" | "load";

/**
 * One apply's outcome. After a failure Caddy still runs the last good config, except for a
 * "write" failure whose error says the new config is live (only its saved copy failed).
 */
export type CaddyApplyResult =
  | { applied: true }
  | { applied: false; stage: CaddyApplyStage; error: string };

/** What an apply needs; `check` and `load` are replaceable so tests can count or fail them. */
export interface CaddyApplyOptions {
  /** Caddyfile.template's text. */
  template: string;
  caddyPath: string;
  /** The agent's 0700 Caddy directory: `Caddyfile`, `Caddyfile.last-good`, check files. */
  dir: string;
  check?: (text: string) => Promise<CaddyCheckResult>;
  /** Loads the JSON the check adapted the Caddyfile to, so Caddy does not adapt it twice. */
  load?: (socketPath: string, json: string) => Promise<void>;
}

/** The files an apply writes in `dir`: the newest checked config, and the last one that loaded. */
export function caddyfilePaths(dir: string): { current: string; lastGood: string } {
  return { current: join(dir, "Caddyfile"), lastGood: join(dir, "Caddyfile.last-good") };
}

async function loadAndRestrict(socketPath: string, json: string): Promise<void> {
  await loadCaddyJson(socketPath, json);
  // Cheap, and covers a socket Caddy re-created because the admin address changed.
  await restrictAdminSocket(socketPath);
}

const message = (err: unknown) => err instanceof Error ? err.message : String(err);

/** Renders, checks, writes and loads the config for `input`; never throws. */
export async function applyCaddyConfig(
  input: CaddyRenderInput,
  options: CaddyApplyOptions,
): Promise<CaddyApplyResult> {
  let text: string;
  try {
    text = renderCaddyfile(options.template, input);
  } catch (err) {
    return { applied: false, stage: "render", error: message(err) };
  }
  const check = options.check ??
    ((text: string) =>
      checkCaddyfile(text, { caddyPath: options.caddyPath, tempDir: options.dir }));
  let checked: CaddyCheckResult;
  try {
    checked = await check(text);
  } catch (err) {
    return { applied: false, stage: "check", error: message(err) };
  }
  if (!checked.ok) return { applied: false, stage: "check", error: checked.error };
  const paths = caddyfilePaths(options.dir);
  try {
    await writeFileAtomic(paths.current, text, 0o600);
  } catch (err) {
    return { applied: false, stage: "write", error: message(err) };
  }
  try {
    await (options.load ?? loadAndRestrict)(input.adminSocket, checked.json);
  } catch (err) {
    return { applied: false, stage: "load", error: message(err) };
  }
  try {
    await writeFileAtomic(paths.lastGood, text, 0o600);
  } catch (err) {
    // The only failure after which Caddy runs the new config: the copy to restart from is stale.
    const error = `Caddy runs the new config, but keeping it as last good failed: ${message(err)}`;
    return { applied: false, stage: "write", error };
  }
  return { applied: true };
}

/** Applies configs one at a time, folding a burst of offers into as few applies as possible. */
export interface CaddyApplier {
  /**
   * Queues `input`; while an apply runs only the newest queued input is kept, and applied once
   * that apply ends. Resolves with the result of the apply that included this input or a newer
   * one that replaced it.
   */
  offer(input: CaddyRenderInput): Promise<CaddyApplyResult>;
  /** Resolves once nothing is queued or being applied. */
  idle(): Promise<void>;
}

/** Builds an applier around `apply` (usually `applyCaddyConfig` with fixed options). */
export function createCaddyApplier(
  apply: (input: CaddyRenderInput) => Promise<CaddyApplyResult>,
): CaddyApplier {
  type Waiter = (result: CaddyApplyResult) => void;
  let queued: { input: CaddyRenderInput; waiters: Waiter[] } | null = null;
  let running: Promise<void> | null = null;

  const drain = async () => {
    while (queued !== null) {
      const { input, waiters } = queued;
      queued = null;
      let result: CaddyApplyResult;
      try {
        result = await apply(input);
      } catch (err) {
        // `applyCaddyConfig` never throws; another `apply` must not wedge the queue either.
        result = { applied: false, stage: "load", error: message(err) };
      }
      for (const resolve of waiters) resolve(result);
    }
    running = null;
  };

  return {
    offer(input) {
      return new Promise((resolve) => {
        if (queued === null) queued = { input, waiters: [resolve] };
        else {
          queued.input = input;
          queued.waiters.push(resolve);
        }
        running ??= drain();
      });
    },
    async idle() {
      while (running !== null) await running;
    },
  };
}
