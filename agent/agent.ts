// Wires one agent together: state file → journal → reconciler, dispatcher, metrics → hub client.
import type { AgentFrame } from "./protocol/frames.ts";
import type { AgentMode, ToolInventory } from "./protocol/host-report.ts";
import { importPrivateKey, importPublicKey } from "./protocol/signing.ts";
import { HostWeb } from "./protocol/sites.ts";
import { PROTOCOL_VERSION, TIMING } from "./protocol/version.ts";
import type { CommandHandler } from "./command-handler.ts";
import { createDispatcher, type DispatchEvent } from "./dispatch.ts";
import { DEFAULT_PATH } from "./exec.ts";
import { collectFacts } from "./facts.ts";
import { createHubClient, DEFAULT_HUB_TIMING, type HubTiming } from "./hub-client.ts";
import { collectInventory } from "./inventory.ts";
import { openJournal } from "./journal.ts";
import { createLog, type Log } from "./log.ts";
import { createMetricsSampler, startMetrics } from "./metrics.ts";
import { type Applier, createReconciler } from "./reconcile.ts";
import { readStateFile } from "./state-file.ts";
import { AGENT_VERSION } from "./version.ts";
import { siteCommandHandlers } from "./sites/site-commands.ts";
import { sitePlaces } from "./sites/site-paths.ts";
import {
  createSites,
  readCaddyTemplate,
  type Sites,
  type SitesOptions,
} from "./sites/sites-applier.ts";
import { startTrashSweeper } from "./sites/trash.ts";

/** Every timing of a running agent; tests shrink them. */
export interface AgentTiming extends HubTiming {
  metricsMs: number;
  /** The least time between two reports sent because a site's status changed. */
  siteReportMs: number;
  /** How long `stop()` waits for running commands; any still running are reported interrupted. */
  stopGraceMs: number;
}

/** How to run an agent. */
export interface AgentOptions {
  stateDir: string;
  mode: AgentMode;
  /** Why the agent is sandboxed; null in system mode. */
  modeReason: string | null;
  /** Extra command kinds (tests); `host.diagnose` is built in and cannot be replaced. */
  handlers?: Record<string, CommandHandler>;
  /** Desired-state sections and how to apply them, besides `sites`. */
  appliers?: Record<string, Applier>;
  /** Run sites (Caddy, workers, the `sites` section and site commands); none when absent. */
  sites?: AgentSitesOptions;
  /** Test hook: return false to drop an outgoing frame. */
  outboundFilter?: (frame: AgentFrame) => boolean;
  timing?: Partial<AgentTiming>;
  log?: Log;
  /** Where to look for tools; a standard system PATH by default. */
  toolPath?: string;
  /** Replaces the API URL in the state file (the embedded agent knows the API's current one). */
  apiUrl?: string;
  now?: () => Date;
}

/** How an agent serves sites; tests choose the directories and speed up the supervisor. */
export interface AgentSitesOptions
  extends Pick<SitesOptions, "httpPort" | "httpsPort" | "policy" | "users" | "applyCaddy"> {
  /** The directory holding `sites/` and `trash/`; by mode when absent (see site-paths.ts). */
  base?: string;
}

/** Events the agent reports on `events`, each a CustomEvent with this detail. */
export interface AgentEventDetail {
  connected: null;
  disconnected: { code: number; reason: string };
  commandFinished: Extract<DispatchEvent, { type: "finished" }>;
  commandRejected: Extract<DispatchEvent, { type: "rejected" }>;
  observed: { revision: number };
}

/** A running agent. */
export interface AgentHandle {
  hostId: string;
  /** Dispatches the events of AgentEventDetail. */
  events: EventTarget;
  isConnected(): boolean;
  /** Disconnects, waits for running commands to be journaled, closes the journal. */
  stop(): Promise<void>;
}

/** Starts an enrolled agent from its state directory. */
export async function startAgent(options: AgentOptions): Promise<AgentHandle> {
  const now = options.now ?? (() => new Date());
  const timing: AgentTiming = {
    ...DEFAULT_HUB_TIMING,
    metricsMs: TIMING.metricsMs,
    siteReportMs: 1_000,
    stopGraceMs: 10_000,
    ...options.timing,
  };
  const state = await readStateFile(options.stateDir);
  const log = (options.log ?? createLog({ name: "caddis-agent" })).child({ hostId: state.hostId });
  const privateKey = await importPrivateKey(state.privateKey);
  const apiPublicKey = await importPublicKey(state.apiPublicKey);
  const journal = await openJournal(options.stateDir, now());
  const events = new EventTarget();
  const emit = <K extends keyof AgentEventDetail>(type: K, detail: AgentEventDetail[K]) => {
    events.dispatchEvent(new CustomEvent(type, { detail }));
  };
  const toolPath = options.toolPath ?? DEFAULT_PATH;
  const facts = () => collectFacts(options.stateDir);
  // The reconciler refreshes the inventory (at its first report and on host.diagnose); sites
  // read the latest one to know which runtimes and which Caddy the host has.
  let tools: Promise<ToolInventory> | null = null;
  const refreshInventory = () => (tools = collectInventory(toolPath));
  const sites = options.sites
    ? await startSites(options.sites, {
      mode: options.mode,
      stateDir: options.stateDir,
      inventory: () => tools ?? refreshInventory(),
      onChange: () => reconciler.sitesChanged(),
      log,
      now,
    })
    : null;

  // A sites directory the protocol cannot carry (Caddy refuses it too) must not break `hello`.
  const web = sites && HostWeb.safeParse(sites.web).success ? sites.web : null;
  if (sites && !web) log.warn("the sites directory cannot be reported", { web: sites.web });

  const send = (frame: AgentFrame) => hub.send(frame);
  const reconciler = createReconciler({
    hostId: state.hostId,
    appliers: { ...options.appliers, ...(sites ? { sites: sites.apply } : {}) },
    facts,
    inventory: refreshInventory,
    send: (observed) => {
      send({ type: "observed_state", observed });
      emit("observed", { revision: observed.revision });
    },
    sites: sites?.observed,
    siteReportIntervalMs: timing.siteReportMs,
    now,
    log,
  });
  const dispatcher = createDispatcher({
    hostId: state.hostId,
    apiPublicKey,
    journal,
    handlers: {
      ...options.handlers,
      ...(sites ? siteCommandHandlers(sites) : {}),
      "host.diagnose": () => reconciler.diagnose(),
    },
    send,
    now,
    log,
    onEvent: (event) => {
      if (event.type === "finished") emit("commandFinished", event);
      else emit("commandRejected", event);
    },
  });
  const apiUrl = (options.apiUrl ?? state.apiUrl).replace(/\/+$/, "");
  const hub = createHubClient({
    url: `${apiUrl.replace(/^http/, "ws")}${state.wsPath}`,
    hostId: state.hostId,
    privateKey,
    hello: async () => ({
      agentVersion: AGENT_VERSION,
      protocolVersion: PROTOCOL_VERSION,
      mode: options.mode,
      modeReason: options.modeReason,
      facts: await facts(),
      ...(web ? { web } : {}),
    }),
    onFrame: (frame) => {
      if (frame.type === "desired_state") reconciler.offer(frame.state);
      else void dispatcher.handle(frame);
    },
    onConnected: () => {
      emit("connected", null);
      // The panel shows usage at once, rather than after the first full interval.
      metrics.sampleNow();
    },
    onDisconnected: (info) => emit("disconnected", info),
    outboundFilter: options.outboundFilter,
    timing,
    now,
    log,
  });
  const metrics = startMetrics({
    sampler: createMetricsSampler({ diskPath: options.stateDir, now }),
    send: (sample) => send({ type: "metrics", sample }),
    intervalMs: timing.metricsMs,
    onError: (err) => log.warn("taking a metrics sample failed", { error: String(err) }),
  });
  log.info("agent starting", { mode: options.mode, modeReason: options.modeReason, apiUrl });
  hub.start();
  // Caddy serves the last good config even before the API is reachable.
  void sites?.start();

  let stopping: Promise<void> | null = null;
  return {
    hostId: state.hostId,
    events,
    isConnected: () => hub.isConnected(),
    stop() {
      stopping ??= (async () => {
        hub.stop();
        metrics.stop();
        dispatcher.stop();
        // A handler that ignores its abort signal must not hold the agent up forever; the
        // journal then says it never finished, and the next start reports it interrupted.
        let grace: ReturnType<typeof setTimeout> | undefined;
        const expired = new Promise<void>((
          resolve,
        ) => (grace = setTimeout(resolve, timing.stopGraceMs)));
        await Promise.race([dispatcher.idle(), expired]);
        clearTimeout(grace);
        await reconciler.idle();
        await sites?.stop();
        reconciler.stop();
        await journal.close();
        log.info("agent stopped");
      })();
      return stopping;
    },
  };
}

/** The host's sites with a trash sweeper that runs while they do. */
async function startSites(
  options: AgentSitesOptions,
  deps: Pick<SitesOptions, "mode" | "stateDir" | "inventory" | "onChange" | "log" | "now">,
): Promise<Sites> {
  const places = sitePlaces(deps.mode, deps.stateDir, options.base);
  const sites = createSites({ ...options, ...deps, places, template: await readCaddyTemplate() });
  const sweeper = startTrashSweeper({ trashDir: places.trashDir, now: deps.now, log: deps.log });
  return {
    ...sites,
    async stop() {
      sweeper.stop();
      await sites.stop();
    },
  };
}
