// Shared set-up of the agent channel tests: a real API (Bun.serve + hub) on a test database, real
// agents (startAgent) in private directories, and the service calls that issue and read commands.
import { join } from "node:path";
import type { AgentHandle } from "../../agent/agent.ts";
import { journalPath, readJournalEntries } from "../../agent/journal.ts";
import { AGENT_SOCKET_PATH } from "../../agent/protocol/enrolment.ts";
import { writeStateFile } from "../../agent/state-file.ts";
import { tempDir } from "../../agent/test-fixtures.ts";
import type { AgentHubOptions } from "../../api/hub/agent-hub.ts";
import {
  type CommandView,
  enqueueCommand,
  getHostCommand,
  type HostRef,
} from "../../api/services/agent-commands.ts";
import { type AgentServer, startAgentServer } from "../testing/agent-server.ts";
import type { TestDatabase } from "../testing/db.ts";
import { insertEnrolledHost } from "../testing/protocol-client.ts";
import { waitFor } from "../testing/wait.ts";

/** Hub timings to match the agents' (test-agent.ts AGENT_TIMING). */
export const HUB_TIMING: AgentHubOptions = {
  heartbeatMs: 500,
  peerTimeoutMs: 10_000,
  sweepMs: 100,
  lastSeenFlushMs: 200,
};

/**
 * Starts an API with its agent hub. `signingKey` is CADDIS_AGENT_SIGNING_KEY: an API restarted on
 * the same database must keep it, or its agents would refuse its commands; `hub` overrides
 * HUB_TIMING. Request budgets are off: agents redialling a refused socket in a tight loop are not
 * what these tests measure.
 */
export function startChannelServer(
  options: { database?: TestDatabase; signingKey?: string; hub?: AgentHubOptions } = {},
): Promise<AgentServer> {
  const env: Record<string, string> = { CADDIS_RATE_LIMITS: "api=off;agent=off" };
  if (options.signingKey) env.CADDIS_AGENT_SIGNING_KEY = options.signingKey;
  const hub = { ...HUB_TIMING, ...options.hub };
  return startAgentServer({ database: options.database, hub, env });
}

/** An enrolled host and the private directory of its agent. */
export interface EnrolledAgent {
  host: HostRef;
  dir: string;
  remove(): Promise<void>;
}

/**
 * Enrols a host without the HTTP round trip (enrolment.test.ts covers that): the host row gets
 * the agent's public key and the agent's state file pins the API's key and points at `apiUrl`.
 */
export async function enrolTestAgent(
  server: AgentServer,
  tenantId: string,
  name: string,
  apiUrl: string = server.baseUrl,
): Promise<EnrolledAgent> {
  const deps = server.testApp.deps;
  const identity = await insertEnrolledHost(deps.database.db, tenantId, name);
  const { dir, remove } = await tempDir(`channel-${name}`);
  const agentDir = join(dir, "agent");
  await writeStateFile(agentDir, {
    hostId: identity.hostId,
    apiUrl,
    wsPath: AGENT_SOCKET_PATH,
    privateKey: identity.privateKey,
    publicKey: identity.publicKey,
    apiPublicKey: deps.commandSigner.publicKey,
    enrolledAt: new Date().toISOString(),
  });
  return { host: { id: identity.hostId, tenantId, name }, dir: agentDir, remove };
}

/** Waits until the agent has said hello and the API holds its socket. */
export async function waitOnline(server: AgentServer, agent: AgentHandle): Promise<void> {
  await waitFor(
    `host ${agent.hostId} to be connected`,
    () => agent.isConnected() && server.testApp.deps.agentHub.isConnected(agent.hostId),
  );
}

/** What a test command should be. */
export interface TestCommand {
  kind: string;
  siteId?: string | null;
  payload?: Record<string, unknown>;
  ttlMs?: number;
}

/** Issues commands in one transaction through `server`, as a change in that API would. */
export async function issueCommands(
  server: AgentServer,
  host: HostRef,
  commands: TestCommand[],
): Promise<CommandView[]> {
  const deps = server.testApp.deps;
  return await deps.database.db.transaction(async (tx) => {
    const issued: CommandView[] = [];
    for (const command of commands) {
      issued.push(
        await enqueueCommand(tx, deps, {
          host,
          siteId: command.siteId ?? null,
          kind: command.kind,
          payload: command.payload ?? {},
          issuedBy: null,
          ttlMs: command.ttlMs ?? 10 * 60_000,
        }),
      );
    }
    return issued;
  });
}

/** The command as the API stores it now. */
export function commandNow(server: AgentServer, host: HostRef, id: string): Promise<CommandView> {
  return getHostCommand(server.testApp.deps.database.db, host.id, id);
}

/** Waits until the command is in `state`; returns it then. */
export async function waitCommandState(
  server: AgentServer,
  host: HostRef,
  id: string,
  state: CommandView["state"],
  timeoutMs?: number,
): Promise<CommandView> {
  let last: CommandView | undefined;
  try {
    await waitFor(
      `command ${id} to be ${state}`,
      async () => (last = await commandNow(server, host, id)).state === state,
      timeoutMs,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; it is ${last?.state} (${last?.error})`);
  }
  return last!;
}

/** The journal's entry types for each command id, in order. */
export async function journalByCommand(dir: string): Promise<Map<string, string[]>> {
  const { entries } = await readJournalEntries(journalPath(dir));
  const byId = new Map<string, string[]>();
  for (const entry of entries) byId.set(entry.id, [...(byId.get(entry.id) ?? []), entry.type]);
  return byId;
}
