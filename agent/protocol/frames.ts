// Every frame on the agent socket, in both directions. Frames are JSON objects with a `type`.
import { z } from "zod";
import { CommandOutcome, RejectReason } from "./commands.ts";
import { DesiredState, ObservedState } from "./desired-state.ts";
import { AgentMode, HostFacts, MetricsSample } from "./host-report.ts";
import { HostWeb } from "./sites.ts";

const id = z.string().min(1).max(64);
const base64Url = z.string().regex(/^[A-Za-z0-9_-]+$/).max(512);

/** Error codes either side puts in an `error` frame. */
export const PROTOCOL_ERROR_CODES = [
  "malformed_frame",
  "frame_too_large",
  "unexpected_frame",
  "auth_failed",
  "unsupported_protocol",
  "host_revoked",
  "internal",
] as const;
export const ProtocolErrorCode = z.enum(PROTOCOL_ERROR_CODES);
export type ProtocolErrorCode = z.infer<typeof ProtocolErrorCode>;

const errorFrame = z.object({
  type: z.literal("error"),
  code: ProtocolErrorCode,
  message: z.string().max(1000),
}).strict();

const heartbeat = z.object({ type: z.literal("heartbeat"), at: z.iso.datetime() }).strict();

/** API → agent. */
export const ServerFrame = z.discriminatedUnion("type", [
  /** First frame on every connection: sign this nonce to prove you hold the host's key. */
  z.object({ type: z.literal("challenge"), nonce: base64Url, serverTime: z.iso.datetime() })
    .strict(),
  /** The answer checked out; `hello` comes next. */
  z.object({ type: z.literal("welcome"), hostId: id, serverTime: z.iso.datetime() }).strict(),
  z.object({ type: z.literal("desired_state"), state: DesiredState }).strict(),
  /** `body` is the JSON text of a CommandEnvelope; `signature` is over `commandMessage(body)`. */
  z.object({ type: z.literal("command"), body: z.string().max(512 * 1024), signature: base64Url })
    .strict(),
  heartbeat,
  errorFrame,
]);
export type ServerFrame = z.infer<typeof ServerFrame>;

/** Agent → API. */
export const AgentFrame = z.discriminatedUnion("type", [
  /** The challenge answer: a signature over `authMessage({nonce, hostId, signedAt})`. */
  z.object({
    type: z.literal("auth"),
    hostId: id,
    nonce: base64Url,
    signedAt: z.iso.datetime(),
    signature: base64Url,
  }).strict(),
  z.object({
    type: z.literal("hello"),
    agentVersion: z.string().min(1).max(64),
    protocolVersion: z.number().int().positive(),
    mode: AgentMode,
    /** Why the agent is sandboxed (not root, embedded, or configured), null in system mode. */
    modeReason: z.string().max(200).nullable(),
    facts: HostFacts,
    /** How the host serves sites; absent when the agent cannot serve any. */
    web: HostWeb.optional(),
  }).strict(),
  heartbeat,
  z.object({ type: z.literal("observed_state"), observed: ObservedState }).strict(),
  /** The command is journaled on disk and will run (or has run); it will never run again. */
  z.object({ type: z.literal("command_ack"), commandId: id }).strict(),
  z.object({
    type: z.literal("command_result"),
    commandId: id,
    outcome: CommandOutcome,
    result: z.record(z.string(), z.unknown()).nullable(),
    error: z.string().max(8000).nullable(),
    finishedAt: z.iso.datetime(),
  }).strict(),
  /** Refused without running; `commandId` is null when the envelope could not be read. */
  z.object({
    type: z.literal("command_rejected"),
    commandId: id.nullable(),
    reason: RejectReason,
    detail: z.string().max(1000),
  }).strict(),
  z.object({ type: z.literal("metrics"), sample: MetricsSample }).strict(),
  errorFrame,
]);
export type AgentFrame = z.infer<typeof AgentFrame>;
