// How a receiver reads a `command` frame: signature first (against the pinned API key), then the
// envelope, then its validity window. Shared by the agent and the simulated agents of tests and
// benches, so every one of them refuses exactly what the agent refuses.
import { CommandEnvelope, type RejectReason } from "./commands.ts";
import { parseFrame } from "./parse-frame.ts";
import { commandMessage, verifyText } from "./signing.ts";
import { TIMING } from "./version.ts";

/** Why a command was refused unrun; `commandId` is null when no trustworthy id could be read. */
export interface CommandRefusal {
  commandId: string | null;
  reason: RejectReason;
  detail: string;
}

/** A command frame's verified envelope, or why it cannot be used. */
export type OpenedCommand =
  | { ok: true; command: CommandEnvelope }
  | ({ ok: false } & CommandRefusal);

/** Verifies a command frame's signature, then reads its envelope; never throws. */
export async function openCommand(
  apiPublicKey: CryptoKey,
  body: string,
  signature: string,
): Promise<OpenedCommand> {
  if (!(await verifyText(apiPublicKey, commandMessage(body), signature))) {
    // The id inside an unverified body is not trusted, not even to name the refusal.
    return {
      ok: false,
      commandId: null,
      reason: "bad_signature",
      detail: "the signature does not verify against the pinned API key",
    };
  }
  const parsed = parseFrame(body, CommandEnvelope);
  if (!parsed.ok) {
    return { ok: false, commandId: claimedId(body), reason: "malformed", detail: parsed.message };
  }
  return { ok: true, command: parsed.frame };
}

/** Why a verified command may not run at `now` (too early beyond the clock skew, or expired). */
export function commandTimeProblem(command: CommandEnvelope, now: Date): CommandRefusal | null {
  const at = now.getTime();
  if (at < Date.parse(command.notBefore) - TIMING.clockSkewMs) {
    return {
      commandId: command.id,
      reason: "not_yet_valid",
      detail: `the command is not valid before ${command.notBefore}`,
    };
  }
  if (at >= Date.parse(command.expiresAt)) {
    return {
      commandId: command.id,
      reason: "expired",
      detail: `the command expired at ${command.expiresAt}`,
    };
  }
  return null;
}

// The id of a signed envelope that failed its schema, so the API can close the row it belongs to.
function claimedId(body: string): string | null {
  try {
    const id = (JSON.parse(body) as { id?: unknown } | null)?.id;
    return typeof id === "string" && id.length > 0 && id.length <= 64 ? id : null;
  } catch {
    return null;
  }
}
