// Bun Worker entry for the agent the API runs for its own host. It speaks the same protocol over
// loopback as any remote agent, always in sandbox mode. Its settings arrive in the first message,
// because only entry files read the environment.
import os from "node:os";
import { z } from "zod";
import { type AgentHandle, startAgent } from "./agent.ts";
import { DEFAULT_SANDBOX_HTTP_PORT } from "./config.ts";
import { enrollAgent } from "./enroll.ts";
import { createLog } from "./log.ts";
import { servingPorts } from "./sites/sites-applier.ts";
import { stateFileExists } from "./state-file.ts";

declare const self: Worker;

/** The first message the API posts to the worker. */
export const EmbeddedAgentInit = z.object({
  apiUrl: z.url({ protocol: /^https?$/ }),
  stateDir: z.string().startsWith("/"),
  /** One-time token: enrol with it (replacing any state file) before running. */
  enrolToken: z.string().optional(),
  /** PATH to find tools on; the standard system PATH when absent. */
  toolPath: z.string().optional(),
  /** Caddy's plain-HTTP port for this host's sites (CADDIS_AGENT_HTTP_PORT); 8088 when absent. */
  httpPort: z.number().int().min(1024).max(65_535).optional(),
}).strict();
export type EmbeddedAgentInit = z.infer<typeof EmbeddedAgentInit>;

/** What the worker posts back. */
export type EmbeddedAgentMessage =
  | { type: "ready"; hostId: string }
  | { type: "error"; message: string }
  | { type: "stopped" };

const log = createLog({ name: "embedded-agent" });
let agent: AgentHandle | null = null;
let starting: Promise<void> | null = null;

const post = (message: EmbeddedAgentMessage) => self.postMessage(message);

async function start(init: EmbeddedAgentInit): Promise<void> {
  // The API sends a token only when this state dir does not hold the live local host's key (a
  // first start, or a database reset while the data dir was kept): enrol, replacing the file.
  if (init.enrolToken) {
    await enrollAgent({
      apiUrl: init.apiUrl,
      token: init.enrolToken,
      stateDir: init.stateDir,
      hostname: os.hostname(),
      force: true,
    });
  } else if (!(await stateFileExists(init.stateDir))) {
    throw new Error(`not enrolled (${init.stateDir}) and no enrolment token given`);
  }
  agent = await startAgent({
    stateDir: init.stateDir,
    mode: "sandbox",
    modeReason: "embedded in the API process",
    apiUrl: init.apiUrl,
    toolPath: init.toolPath,
    sites: servingPorts("sandbox", init.httpPort ?? DEFAULT_SANDBOX_HTTP_PORT),
    log,
  });
  post({ type: "ready", hostId: agent.hostId });
}

self.onmessage = (event: MessageEvent) => {
  const data = event.data as unknown;
  if (typeof data === "object" && data !== null && (data as { type?: unknown }).type === "stop") {
    void (async () => {
      await starting?.catch(() => {});
      await agent?.stop();
      post({ type: "stopped" });
      self.onmessage = null;
    })();
    return;
  }
  if (starting) return; // only the first settings message counts
  const init = EmbeddedAgentInit.safeParse(data);
  if (!init.success) {
    starting = Promise.resolve();
    post({
      type: "error",
      message: `bad settings for the embedded agent: ${init.error.issues[0]?.message}`,
    });
    return;
  }
  starting = start(init.data).catch((err) => {
    post({ type: "error", message: err instanceof Error ? err.message : String(err) });
  });
};
