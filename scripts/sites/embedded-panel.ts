// The panel as `npm start` runs it, for end-to-end tests of sites: `bun api/main-bun.ts` on the
// PGlite in a temp data dir, with its embedded agent running the real Caddy (plain HTTP on a
// free loopback port) and site workers, set up through its one-time link.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HostView } from "../../api/services/host-view.ts";
import {
  callReplica,
  expectJson,
  setupThroughLink,
  sharedSecrets,
} from "../replicas/api-process.ts";
import { freePort } from "../testing/ports.ts";
import { type ServerProcess, startServerProcess } from "../testing/process.ts";
import { waitFor } from "../testing/wait.ts";

const ENTRY = join(import.meta.dir, "../../api/main-bun.ts");

/** A running panel with its local host online. */
export interface EmbeddedPanel {
  api: ServerProcess;
  dataDir: string;
  /** The superuser's access token. */
  token: string;
  /** The id of the `local` host the embedded agent runs. */
  localHostId: string;
  /** Where the embedded agent's Caddy serves sites on 127.0.0.1. */
  httpPort: number;
  /** Calls the JSON API as the superuser. */
  call(method: string, path: string, body?: unknown): Promise<Response>;
  /** GET / through Caddy as a browser asking for `domain` would; status 0 when nothing answers. */
  throughCaddy(domain: string): Promise<{ status: number; body: string }>;
  /** Stops the panel (and with it the agent, Caddy and the workers) and deletes the data dir. */
  stop(): Promise<void>;
}

/** Starts the panel, completes setup and waits for the local host to come online. */
export async function startEmbeddedPanel(): Promise<EmbeddedPanel> {
  const dataDir = await mkdtemp(join(tmpdir(), "caddis-panel-"));
  const httpPort = freePort();
  const api = await startServerProcess([process.execPath, ENTRY], {
    ...sharedSecrets(),
    CADDIS_DATA_DIR: dataDir,
    CADDIS_PORT: "0",
    CADDIS_EMBEDDED_AGENT: "on",
    CADDIS_AGENT_HTTP_PORT: String(httpPort),
    CADDIS_RATE_LIMITS: "api=off;agent=off;auth=off;pages=off",
  }, 60_000);
  const stop = async () => {
    await api.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const token = await setupThroughLink(api);
    const call = (method: string, path: string, body?: unknown) =>
      callReplica(api, token, method, path, body);
    let local: HostView | undefined;
    await waitFor("the local host online", async () => {
      const { hosts } = await expectJson<{ hosts: HostView[] }>(await call("GET", "/hosts"), 200);
      local = hosts.find((host) => host.name === "local");
      return local?.status === "online";
    }, 60_000);
    return {
      api,
      dataDir,
      token,
      localHostId: local!.id,
      httpPort,
      call,
      async throughCaddy(domain) {
        try {
          const res = await fetch(`http://127.0.0.1:${httpPort}/`, { headers: { host: domain } });
          return { status: res.status, body: await res.text() };
        } catch (err) {
          return { status: 0, body: (err as Error).message };
        }
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
