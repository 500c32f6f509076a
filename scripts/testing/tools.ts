import { test } from "bun:test";

/** True when the suite runs in CI, where a missing tool fails instead of skipping. */
export const IN_CI = process.env.CI === "true";

/** Whether `tool` is on PATH (or is an absolute path that exists). */
export function hasTool(tool: string): boolean {
  return Bun.which(tool) !== null;
}

/**
 * Declares a test that needs external tools (caddy, nft, php, chromium…). When one is missing
 * the test is skipped with the reason printed, except under CI=true, where it fails instead.
 */
export function testWithTools(
  tools: string[],
  name: string,
  fn: () => Promise<void> | void,
  timeoutMs?: number,
): void {
  const missing = tools.filter((tool) => !hasTool(tool));
  if (missing.length === 0) {
    test(name, fn, timeoutMs);
    return;
  }
  const reason = `missing tool(s): ${missing.join(", ")}`;
  if (IN_CI) {
    test(name, () => {
      throw new Error(`${reason} (CI=true turns this skip into a failure; .ci/run installs them)`);
    });
    return;
  }
  console.warn(`skip: "${name}": ${reason}`);
  test.skip(`${name} [${reason}]`, fn);
}
