// A command ready for the outbox: its payload checked against its kind's spec, its lifetime set,
// and its body signed with the API's key, before any row exists.
import { COMMAND_SPECS, CommandKind } from "../../agent/protocol/commands.ts";
import { newId } from "../../db/ids.ts";
import type { AppDeps } from "../deps.ts";
import { AppError } from "../errors.ts";
import type { CommandView, EnqueueCommandInput } from "./agent-commands.ts";

// The `command` frame carries the body as a string of at most this many characters.
const MAX_BODY_CHARS = 512 * 1024;

/** A command ready to be written: checked, timed and signed, with no row yet. */
export interface SignedCommand {
  id: string;
  hostId: string;
  siteId: string | null;
  kind: string;
  payload: Record<string, unknown>;
  issuedBy: string | null;
  /** Whether it replaces older queued commands of its kind for the same host and site. */
  supersedes: boolean;
  createdAt: Date;
  notBefore: Date;
  expiresAt: Date;
  body: string;
  signature: string;
}

// The payload as the kind's spec parses it, and how long the command stays deliverable.
function checkedCommand(input: Omit<EnqueueCommandInput, "host">) {
  if (!CommandKind.safeParse(input.kind).success) {
    throw new AppError("invalid_input", `"${input.kind}" is not a valid command kind`);
  }
  const spec = COMMAND_SPECS[input.kind];
  const ttlMs = input.ttlMs ?? spec?.ttlMs;
  if (ttlMs === undefined) {
    throw new AppError("invalid_input", `Unknown command kind "${input.kind}"`);
  }
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new AppError("invalid_input", `A command's lifetime must be positive, not ${ttlMs} ms`);
  }
  if (!spec) return { payload: input.payload, ttlMs, supersedes: false };
  const parsed = spec.payload.safeParse(input.payload);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `payload.${issue.path.join(".")}` : "payload";
    throw new AppError(
      "invalid_input",
      `Invalid ${where} for command "${input.kind}": ${issue?.message ?? "rejected"}`,
    );
  }
  return { payload: parsed.data, ttlMs, supersedes: spec.supersedes };
}

/** Checks the payload against its kind and signs the body the agent will verify. */
export async function signCommand(
  deps: AppDeps,
  hostId: string,
  input: Omit<EnqueueCommandInput, "host">,
): Promise<SignedCommand> {
  const { payload, ttlMs, supersedes } = checkedCommand(input);
  const now = deps.now();
  const notBefore = input.notBefore ?? now;
  // The lifetime counts from when the command may first run, not from when it was written.
  const expiresAt = new Date(Math.max(now.getTime(), notBefore.getTime()) + ttlMs);
  const id = newId("cmd");
  const { body, signature } = await deps.commandSigner.sign({
    id,
    hostId,
    siteId: input.siteId,
    kind: input.kind,
    payload,
    issuedAt: now.toISOString(),
    notBefore: notBefore.toISOString(),
    expiresAt: expiresAt.toISOString(),
  });
  // An oversized body could never be delivered: refuse it now rather than let it expire unseen.
  if (body.length > MAX_BODY_CHARS) {
    throw new AppError(
      "payload_too_large",
      `Command "${input.kind}" is ${body.length} characters long; the limit is ${MAX_BODY_CHARS}`,
    );
  }
  return {
    id,
    hostId,
    siteId: input.siteId,
    kind: input.kind,
    payload,
    issuedBy: input.issuedBy,
    supersedes,
    createdAt: now,
    notBefore,
    expiresAt,
    body,
    signature,
  };
}

/** The view of a command just written; `sent` when it went straight to the host's socket. */
export function newCommandView(command: SignedCommand, seq: number, sent = false): CommandView {
  return {
    id: command.id,
    seq,
    hostId: command.hostId,
    siteId: command.siteId,
    kind: command.kind,
    payload: command.payload,
    state: sent ? "sent" : "queued",
    createdAt: command.createdAt.toISOString(),
    notBefore: command.notBefore.toISOString(),
    expiresAt: command.expiresAt.toISOString(),
    sentAt: sent ? command.createdAt.toISOString() : null,
    startedAt: null,
    finishedAt: null,
    deliveries: sent ? 1 : 0,
    result: null,
    error: null,
    issuedBy: command.issuedBy,
  };
}
