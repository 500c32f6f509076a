import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { stat } from "node:fs/promises";
import { enrollAgent } from "./enroll.ts";
import { readStateFile, stateFilePath } from "./state-file.ts";
import { type FakeApi, startFakeApi } from "./test-api.ts";
import { tempDir } from "./test-fixtures.ts";

const TOKEN = `cde_${"a".repeat(52)}`;
let dir: string;
let remove: () => Promise<void>;
let api: FakeApi;
beforeEach(async () => {
  ({ dir, remove } = await tempDir("enroll"));
  api = await startFakeApi({ enrolToken: TOKEN });
});
afterEach(async () => {
  await api.stop();
  await remove();
});

describe("enrolment", () => {
  test("registers a fresh public key, pins the API key and writes a 0600 state file", async () => {
    const state = await enrollAgent({
      apiUrl: `${api.url}/`,
      token: TOKEN,
      stateDir: dir,
      hostname: "web-1",
    });
    expect(state.hostId).toBe(api.hostId);
    expect(state.apiPublicKey).toBe(api.signer.publicKey);
    expect(state.apiUrl).toBe(api.url);
    expect(api.agentPublicKey).toBe(state.publicKey);
    expect(await readStateFile(dir)).toEqual(state);
    expect((await stat(stateFilePath(dir))).mode & 0o777).toBe(0o600);
  });

  test("refuses to replace an existing enrolment unless forced", async () => {
    const first = await enrollAgent({
      apiUrl: api.url,
      token: TOKEN,
      stateDir: dir,
      hostname: "web-1",
    });
    await expect(enrollAgent({ apiUrl: api.url, token: TOKEN, stateDir: dir, hostname: "web-1" }))
      .rejects.toThrow(`already enrolled as host ${first.hostId}`);
    const second = await enrollAgent({
      apiUrl: api.url,
      token: TOKEN,
      stateDir: dir,
      hostname: "web-1",
      force: true,
    });
    expect(second.publicKey).not.toBe(first.publicKey);
  });

  test("a refused token gives the API's message and never the token", async () => {
    const wrong = `cde_${"b".repeat(52)}`;
    const attempt = enrollAgent({
      apiUrl: api.url,
      token: wrong,
      stateDir: dir,
      hostname: "web-1",
    });
    const error = await attempt.then(() => null, (err: Error) => err);
    expect(error?.message).toContain("HTTP 400");
    expect(error?.message).toContain("the enrolment token is invalid or used");
    expect(error?.message).not.toContain(wrong);
  });

  test("a server that echoes the token does not get it into the error", async () => {
    const echoing = (_url: string, init: RequestInit) => {
      const body = JSON.parse(String(init.body)) as { token: string };
      return Promise.resolve(
        Response.json({ error: { message: `token ${body.token} unknown` } }, { status: 400 }),
      );
    };
    const error = await enrollAgent({
      apiUrl: api.url,
      token: TOKEN,
      stateDir: dir,
      hostname: "h",
      fetch: echoing,
    })
      .then(() => null, (err: Error) => err);
    expect(error?.message).toContain("token [redacted] unknown");
    expect(error?.message).not.toContain(TOKEN);
  });

  test("a malformed token is refused before anything is sent, without echoing it", async () => {
    const error = await enrollAgent({
      apiUrl: api.url,
      token: "secret-value",
      stateDir: dir,
      hostname: "h",
    })
      .then(() => null, (err: Error) => err);
    expect(error?.message).toBe("cannot enrol: token is not an enrolment token");
  });

  test("an unreachable API is reported with its address", async () => {
    await api.stop();
    const error = await enrollAgent({ apiUrl: api.url, token: TOKEN, stateDir: dir, hostname: "h" })
      .then(() => null, (err: Error) => err);
    expect(error?.message).toContain(`cannot reach the API at ${api.url}/api/v1/agent/enroll`);
  });
});
