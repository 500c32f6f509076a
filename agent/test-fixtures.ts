// Test-only helpers shared by the agent's tests: temp dirs, an API signing key, signed commands,
// and an enrolled state directory. Nothing here runs in the agent itself.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CommandEnvelope } from "./protocol/commands.ts";
import {
  commandMessage,
  generateSigningKeyPair,
  importPrivateKey,
  signText,
} from "./protocol/signing.ts";
import { type AgentState, writeStateFile } from "./state-file.ts";

/** A fresh private directory under the system temp dir, and how to remove it. */
export async function tempDir(prefix: string): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `caddis-${prefix}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** A key that signs commands the way the API does. */
export interface TestSigner {
  publicKey: string;
  /** Signs the exact text `body`. */
  signBody(body: string): Promise<string>;
  /** Serialises and signs an envelope: a ready `command` frame. */
  sign(envelope: CommandEnvelope): Promise<{ type: "command"; body: string; signature: string }>;
}

/** Creates a new Ed25519 key pair acting as the API's command key. */
export async function createTestSigner(): Promise<TestSigner> {
  const pair = await generateSigningKeyPair();
  const key = await importPrivateKey(pair.privateKey);
  const signBody = (body: string) => signText(key, commandMessage(body));
  return {
    publicKey: pair.publicKey,
    signBody,
    async sign(envelope) {
      const body = JSON.stringify(envelope);
      return { type: "command", body, signature: await signBody(body) };
    },
  };
}

let counter = 0;

/** A valid envelope for `hostId`, valid from now for ten minutes, with overrides applied. */
export function testEnvelope(
  hostId: string,
  overrides: Partial<CommandEnvelope> = {},
  now: Date = new Date(),
): CommandEnvelope {
  counter += 1;
  return {
    id: `cmd_test${counter}_${crypto.randomUUID().slice(0, 8)}`,
    hostId,
    siteId: null,
    kind: "test.echo",
    payload: {},
    issuedAt: now.toISOString(),
    notBefore: now.toISOString(),
    expiresAt: new Date(now.getTime() + 10 * 60_000).toISOString(),
    ...overrides,
  };
}

/** Writes an enrolled state file into `dir` for `hostId`, trusting `apiPublicKey`. */
export async function writeTestState(
  dir: string,
  options: { hostId: string; apiUrl: string; apiPublicKey: string },
): Promise<AgentState> {
  const pair = await generateSigningKeyPair();
  const state: AgentState = {
    hostId: options.hostId,
    apiUrl: options.apiUrl,
    wsPath: "/api/v1/agent/ws",
    privateKey: pair.privateKey,
    publicKey: pair.publicKey,
    apiPublicKey: options.apiPublicKey,
    enrolledAt: new Date().toISOString(),
  };
  await writeStateFile(dir, state);
  return state;
}
