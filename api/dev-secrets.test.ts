import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readConfig } from "./config.ts";
import { ensureDevSecrets } from "./dev-secrets.ts";

let dataDir: string;
beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "caddis-secrets-"));
});
afterEach(() => rm(dataDir, { recursive: true, force: true }));

test("generates missing secrets into secrets.env with mode 0600 and a valid config", async () => {
  const first = await ensureDevSecrets({ CADDIS_DATA_DIR: dataDir });
  expect(first.generated.sort()).toEqual([
    "CADDIS_AGENT_SIGNING_KEY",
    "CADDIS_ENCRYPTION_KEYS",
    "CADDIS_SECRET_KEY",
  ]);
  expect((await stat(first.file)).mode & 0o777).toBe(0o600);
  const config = readConfig(first.env);
  expect(config.secretKeys[0]?.length).toBeGreaterThanOrEqual(32);
  expect(config.keyring).toHaveLength(1);
  expect(config.agentSigningSeed).toHaveLength(32);
});

test("reuses the saved secrets on the next start, so sessions and data survive", async () => {
  const first = await ensureDevSecrets({ CADDIS_DATA_DIR: dataDir });
  const second = await ensureDevSecrets({ CADDIS_DATA_DIR: dataDir });
  expect(second.generated).toEqual([]);
  expect(second.env.CADDIS_SECRET_KEY).toBe(first.env.CADDIS_SECRET_KEY);
  expect(second.env.CADDIS_ENCRYPTION_KEYS).toBe(first.env.CADDIS_ENCRYPTION_KEYS);
  expect(second.env.CADDIS_AGENT_SIGNING_KEY).toBe(first.env.CADDIS_AGENT_SIGNING_KEY);
});

test("prefers secrets from the environment and does not write them to disk", async () => {
  const result = await ensureDevSecrets({
    CADDIS_DATA_DIR: dataDir,
    CADDIS_SECRET_KEY: "from-the-environment-0123456789abcdef",
  });
  expect(result.env.CADDIS_SECRET_KEY).toBe("from-the-environment-0123456789abcdef");
  expect(result.generated).toEqual(["CADDIS_ENCRYPTION_KEYS", "CADDIS_AGENT_SIGNING_KEY"]);
  expect(await readFile(result.file, "utf8")).not.toContain("from-the-environment");
});
