import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { EmbeddedAgentMessage } from "./embedded-worker.ts";
import { type FakeApi, startFakeApi } from "./test-api.ts";
import { tempDir } from "./test-fixtures.ts";
import { waitFor } from "../scripts/testing/wait.ts";

const TOKEN = `cde_${"e".repeat(52)}`;
let dir: string;
let remove: () => Promise<void>;
let api: FakeApi;
let worker: Worker;
let messages: EmbeddedAgentMessage[];

beforeEach(async () => {
  ({ dir, remove } = await tempDir("embedded"));
  api = await startFakeApi({ enrolToken: TOKEN });
  messages = [];
  worker = new Worker(new URL("./embedded-worker.ts", import.meta.url).href);
  worker.onmessage = (event: MessageEvent<EmbeddedAgentMessage>) => messages.push(event.data);
});
afterEach(async () => {
  // A running agent stops its Caddy and workers first; terminated, they would outlive the test.
  if (messages.some((m) => m.type === "ready") && !messages.some((m) => m.type === "stopped")) {
    worker.postMessage({ type: "stop" });
    await waitFor("the agent to stop", () => messages.some((m) => m.type === "stopped"));
  }
  worker.terminate();
  await api.stop();
  await remove();
});

describe("embedded agent worker", () => {
  test("enrols once, connects in sandbox mode, and stops on request", async () => {
    const stateDir = join(dir, "agent");
    worker.postMessage({ apiUrl: api.url, stateDir, enrolToken: TOKEN, httpPort: 18_088 });
    await waitFor("ready", () => messages.length > 0);
    expect(messages[0]).toEqual({ type: "ready", hostId: api.hostId });
    await waitFor("hello", () => api.framesOf("hello").length === 1);
    expect(api.framesOf("hello")[0]).toMatchObject({
      mode: "sandbox",
      modeReason: "embedded in the API process",
      web: { httpPort: 18_088, httpsPort: null, sitesDir: join(stateDir, "sites") },
    });
    worker.postMessage({ type: "stop" });
    await waitFor("stopped", () => messages.some((m) => m.type === "stopped"));
    await waitFor("the close", () => api.closes.length === 1);

    // A second start finds the state file and does not need (or use) a token.
    worker.terminate();
    messages = [];
    worker = new Worker(new URL("./embedded-worker.ts", import.meta.url).href);
    worker.onmessage = (event: MessageEvent<EmbeddedAgentMessage>) => messages.push(event.data);
    worker.postMessage({ apiUrl: api.url, stateDir });
    await waitFor("ready again", () => messages.length > 0);
    expect(messages[0]).toEqual({ type: "ready", hostId: api.hostId });
    await waitFor("the second welcome", () => api.welcomed === 2);
  });

  test("without a state file or a token it reports an error", async () => {
    worker.postMessage({ apiUrl: api.url, stateDir: join(dir, "agent") });
    await waitFor("an error", () => messages.length > 0);
    expect(messages[0]).toEqual({
      type: "error",
      message: `not enrolled (${join(dir, "agent")}) and no enrolment token given`,
    });
  });

  test("bad settings are reported, not thrown", async () => {
    worker.postMessage({ apiUrl: "ftp://x", stateDir: "relative" });
    await waitFor("an error", () => messages.length > 0);
    expect(messages[0]?.type).toBe("error");
  });

  test("a privileged or out-of-range HTTP port is refused", async () => {
    worker.postMessage({ apiUrl: api.url, stateDir: join(dir, "agent"), httpPort: 80 });
    await waitFor("an error", () => messages.length > 0);
    expect(messages[0]).toMatchObject({ type: "error" });
    expect((messages[0] as { message: string }).message).toStartWith(
      "bad settings for the embedded agent:",
    );
  });
});
