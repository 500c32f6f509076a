// The agent's command line: `enroll` once, then `run` (under systemd). The only agent file that
// reads the environment and argv; everything below it takes typed options.
import { readFile } from "node:fs/promises";
import os from "node:os";
import { ENROLMENT_TOKEN_PATTERN } from "./protocol/enrolment.ts";
import { startAgent } from "./agent.ts";
import { type EnrolConfig, parseAgentConfig, type RunConfig, USAGE } from "./config.ts";
import { enrollAgent } from "./enroll.ts";
import { createLog } from "./log.ts";
import { servingPorts } from "./sites/sites-applier.ts";
import { stateFilePath } from "./state-file.ts";

const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

async function enroll(config: EnrolConfig): Promise<void> {
  let token = config.token;
  if (config.tokenFile) {
    const text = await readFile(config.tokenFile, "utf8").catch((err: NodeJS.ErrnoException) => {
      throw new Error(`cannot read the token file ${config.tokenFile}: ${err.code ?? err.message}`);
    });
    token = text.trim();
    if (!ENROLMENT_TOKEN_PATTERN.test(token)) {
      throw new Error(`${config.tokenFile} does not hold an enrolment token`);
    }
  }
  const state = await enrollAgent({
    apiUrl: config.apiUrl,
    token: token ?? "",
    stateDir: config.stateDir,
    hostname: os.hostname(),
    force: config.force,
  });
  console.log(
    `enrolled as host ${state.hostId}; identity written to ${stateFilePath(config.stateDir)}`,
  );
}

async function run(config: RunConfig): Promise<void> {
  const log = createLog({ name: "caddis-agent" });
  const agent = await startAgent({
    stateDir: config.stateDir,
    mode: config.mode,
    modeReason: config.modeReason,
    toolPath: config.toolPath,
    sites: servingPorts(config.mode, config.httpPort),
    log,
  });
  const shutdown = (signal: string) => {
    log.info("stopping", { signal });
    agent.stop().then(() => process.exit(0), (err) => {
      log.error("stopping failed", { error: String(err) });
      process.exit(EXIT_FAILED);
    });
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
}

const parsed = parseAgentConfig({
  argv: process.argv.slice(2),
  env: process.env,
  isRoot: process.getuid?.() === 0,
});
if (!parsed.ok) {
  console.error(`caddis-agent: ${parsed.problems.join("; ")}`);
  process.exit(EXIT_USAGE);
}
const config = parsed.config;
try {
  if (config.command === "help") console.log(USAGE);
  else if (config.command === "enroll") await enroll(config);
  else await run(config);
} catch (err) {
  console.error(`caddis-agent: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(EXIT_FAILED);
}
