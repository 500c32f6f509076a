import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { CommandEnvelope } from "./protocol/commands.ts";
import type { AgentFrame } from "./protocol/frames.ts";
import { importPublicKey } from "./protocol/signing.ts";
import type { CommandHandler } from "./command-handler.ts";
import { createDispatcher, type Dispatcher, INTERRUPTED_ERROR } from "./dispatch.ts";
import { type Journal, openJournal } from "./journal.ts";
import { createTestSigner, tempDir, testEnvelope, type TestSigner } from "./test-fixtures.ts";
import { waitFor } from "../scripts/testing/wait.ts";

const HOST = "host_self";
let dir: string;
let remove: () => Promise<void>;
let signer: TestSigner;
let journal: Journal;
let sent: AgentFrame[];
let runs: string[];

beforeEach(async () => {
  ({ dir, remove } = await tempDir("dispatch"));
  signer = await createTestSigner();
  journal = await openJournal(dir);
  sent = [];
  runs = [];
});
afterEach(async () => {
  await journal.close();
  await remove();
});

const echo: CommandHandler = (payload, ctx) => {
  runs.push(ctx.command.id);
  return Promise.resolve({ echoed: payload });
};

async function dispatcherWith(handlers: Record<string, CommandHandler> = { "test.echo": echo }) {
  return createDispatcher({
    hostId: HOST,
    apiPublicKey: await importPublicKey(signer.publicKey),
    journal,
    handlers,
    send: (frame) => sent.push(frame),
    now: () => new Date(),
  });
}

const types = () => sent.map((f) => f.type);
const envelope = (overrides: Partial<CommandEnvelope> = {}) => testEnvelope(HOST, overrides);

function deferred() {
  let release!: () => void;
  const promise = new Promise<void>((resolve) => (release = resolve));
  return { promise, release };
}

describe("dispatcher: valid commands", () => {
  test("journals, acknowledges, runs and reports a signed command", async () => {
    const dispatcher = await dispatcherWith();
    const command = envelope({ payload: { a: 1 } });
    await dispatcher.handle(await signer.sign(command));
    expect(sent).toEqual([
      { type: "command_ack", commandId: command.id },
      expect.objectContaining({
        type: "command_result",
        commandId: command.id,
        outcome: "succeeded",
        result: { echoed: { a: 1 } },
        error: null,
      }),
    ]);
    expect(runs).toEqual([command.id]);
    expect(journal.lookup(command.id)?.finished?.outcome).toBe("succeeded");
  });

  test("a handler that throws fails the command with its message and no stack", async () => {
    const dispatcher = await dispatcherWith({
      "test.boom": () => Promise.reject(new Error("disk is full")),
    });
    const command = envelope({ kind: "test.boom" });
    await dispatcher.handle(await signer.sign(command));
    const result = sent.find((f) => f.type === "command_result");
    expect(result).toMatchObject({ outcome: "failed", error: "disk is full", result: null });
  });

  test("an unknown kind is acknowledged and fails with a clear error", async () => {
    const dispatcher = await dispatcherWith();
    const command = envelope({ kind: "site.teleport" });
    await dispatcher.handle(await signer.sign(command));
    expect(types()).toEqual(["command_ack", "command_result"]);
    expect(sent[1]).toMatchObject({
      outcome: "failed",
      error: "unknown command kind site.teleport",
    });
  });

  test("a notBefore within the clock skew is accepted", async () => {
    const dispatcher = await dispatcherWith();
    const soon = new Date(Date.now() + 30_000).toISOString();
    await dispatcher.handle(await signer.sign(envelope({ notBefore: soon })));
    expect(types()).toEqual(["command_ack", "command_result"]);
  });
});

describe("dispatcher: attacks are refused without running anything", () => {
  const expectRejected = (reason: string, commandId: string | null) => {
    expect(sent).toEqual([
      expect.objectContaining({ type: "command_rejected", reason, commandId }),
    ]);
    expect(runs).toEqual([]);
  };

  test("a command signed with another key", async () => {
    const dispatcher = await dispatcherWith();
    const forger = await createTestSigner();
    const command = envelope();
    await dispatcher.handle(await forger.sign(command));
    expectRejected("bad_signature", null);
    expect(journal.lookup(command.id)).toBeUndefined();
  });

  test("a body changed after signing", async () => {
    const dispatcher = await dispatcherWith();
    const frame = await signer.sign(envelope({ payload: { branch: "main" } }));
    const body = frame.body.replace('"main"', '"evil"');
    await dispatcher.handle({ body, signature: frame.signature });
    expectRejected("bad_signature", null);
  });

  test("a command for another host", async () => {
    const dispatcher = await dispatcherWith();
    const command = testEnvelope("host_other");
    await dispatcher.handle(await signer.sign(command));
    expectRejected("wrong_host", command.id);
  });

  test("an expired command", async () => {
    const dispatcher = await dispatcherWith();
    const command = envelope({ expiresAt: new Date(Date.now() - 1_000).toISOString() });
    await dispatcher.handle(await signer.sign(command));
    expectRejected("expired", command.id);
  });

  test("a command not valid yet (beyond the clock skew)", async () => {
    const dispatcher = await dispatcherWith();
    const command = envelope({ notBefore: new Date(Date.now() + 5 * 60_000).toISOString() });
    await dispatcher.handle(await signer.sign(command));
    expectRejected("not_yet_valid", command.id);
  });

  test("a signed body that is not an envelope", async () => {
    const dispatcher = await dispatcherWith();
    const body = JSON.stringify({ id: "cmd_bad", hostId: HOST, kind: "test.echo" });
    await dispatcher.handle({ body, signature: await signer.signBody(body) });
    expectRejected("malformed", "cmd_bad");
  });

  test("a prototype-pollution payload", async () => {
    const dispatcher = await dispatcherWith();
    const command = envelope();
    const body = JSON.stringify(command).replace(
      '"payload":{}',
      '"payload":{"__proto__":{"polluted":true}}',
    );
    expect(body).toContain("__proto__");
    await dispatcher.handle({ body, signature: await signer.signBody(body) });
    expectRejected("malformed", command.id);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("dispatcher: a command id runs at most once", () => {
  test("a replayed command gets its stored result again and is not re-run", async () => {
    const dispatcher = await dispatcherWith();
    const frame = await signer.sign(envelope());
    await dispatcher.handle(frame);
    const first = sent.find((f) => f.type === "command_result");
    sent = [];
    await dispatcher.handle(frame);
    expect(sent).toEqual([first!]);
    expect(runs).toHaveLength(1);
  });

  test("a replay after a restart, even once expired, is answered from the journal", async () => {
    const command = envelope({ expiresAt: new Date(Date.now() + 60_000).toISOString() });
    const frame = await signer.sign(command);
    await (await dispatcherWith()).handle(frame);
    await journal.close();
    journal = await openJournal(dir);
    sent = [];
    const restarted = createDispatcher({
      hostId: HOST,
      apiPublicKey: await importPublicKey(signer.publicKey),
      journal,
      handlers: { "test.echo": echo },
      send: (f) => sent.push(f),
      now: () => new Date(Date.now() + 120_000), // past expiresAt
    });
    await restarted.handle(frame);
    expect(sent).toEqual([
      expect.objectContaining({ type: "command_result", outcome: "succeeded" }),
    ]);
    expect(runs).toHaveLength(1);
  });

  test("a command the agent died running is reported interrupted and never run", async () => {
    const command = envelope();
    await journal.accept(command.id, new Date(), command.expiresAt); // accepted, then "kill -9"
    await journal.close();
    journal = await openJournal(dir);
    const dispatcher = await dispatcherWith();
    const frame = await signer.sign(command);
    await dispatcher.handle(frame);
    expect(sent).toEqual([
      expect.objectContaining({
        type: "command_result",
        outcome: "failed",
        error: INTERRUPTED_ERROR,
      }),
    ]);
    sent = [];
    await dispatcher.handle(frame);
    expect(sent).toEqual([
      expect.objectContaining({ outcome: "failed", error: INTERRUPTED_ERROR }),
    ]);
    expect(runs).toEqual([]);
  });

  test("a copy arriving while the command runs is not run again", async () => {
    const gate = deferred();
    const dispatcher = await dispatcherWith({
      "test.slow": async (_payload, ctx) => {
        runs.push(ctx.command.id);
        await gate.promise;
        return {};
      },
    });
    const frame = await signer.sign(envelope({ kind: "test.slow" }));
    const first = dispatcher.handle(frame);
    const second = dispatcher.handle(frame);
    await second;
    // The copy came while the first still ran: it only repeats the acknowledgement.
    expect(runs).toHaveLength(1);
    expect(types()).toEqual(["command_ack", "command_ack"]);
    gate.release();
    await first;
    await dispatcher.idle();
    expect(runs).toHaveLength(1);
    expect(types()).toEqual(["command_ack", "command_ack", "command_result"]);
  });
});

describe("dispatcher: ordering", () => {
  test("one command at a time per site, different sites in parallel", async () => {
    const gates = new Map<string, ReturnType<typeof deferred>>();
    const log: string[] = [];
    const dispatcher: Dispatcher = await dispatcherWith({
      "test.step": async (payload) => {
        const name = String(payload.name);
        log.push(`start ${name}`);
        const gate = deferred();
        gates.set(name, gate);
        await gate.promise;
        log.push(`end ${name}`);
        return {};
      },
    });
    // Signed first, then handed over in a fixed order: that order is the arrival order.
    const commands = [["a1", "site_a"], ["a2", "site_a"], ["b1", "site_b"], ["h1", null]] as const;
    const frames = await Promise.all(
      commands.map(([name, siteId]) =>
        signer.sign(envelope({ kind: "test.step", siteId, payload: { name } }))
      ),
    );
    const [a1, a2, b1, h1] = frames.map((frame) => dispatcher.handle(frame));
    const waitStarted = (name: string) =>
      waitFor(`${name} to start`, () => gates.has(name), 5_000, 1);
    await Promise.all([waitStarted("a1"), waitStarted("b1"), waitStarted("h1")]);
    expect(log).not.toContain("start a2"); // a2 waits for a1
    gates.get("b1")!.release();
    await b1;
    expect(log).toContain("end b1");
    expect(log).not.toContain("end a1");
    gates.get("a1")!.release();
    await waitStarted("a2");
    gates.get("a2")!.release();
    gates.get("h1")!.release();
    await Promise.all([a1, a2, h1]);
    expect(log.indexOf("end a1")).toBeLessThan(log.indexOf("start a2"));
    // Acks went out in arrival order, each as soon as its command was journaled.
    const acks = sent.filter((f) => f.type === "command_ack").map((f) => f.commandId);
    expect(acks).toEqual(frames.map((f) => JSON.parse(f.body).id));
  });
});
