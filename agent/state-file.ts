// The agent's identity on disk: `<dir>/agent.json`, written once at enrolment. It holds the private
// key, so the directory is 0700, the file 0600, and a file others can read is refused.
import { chmod, mkdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { AGENT_SOCKET_PATH } from "./protocol/enrolment.ts";
import { publicKeyOf } from "./protocol/signing.ts";
import { writeFileAtomic } from "./atomic-write.ts";

const base64Url = z.string().regex(/^[A-Za-z0-9_-]+$/);

/** Everything the agent keeps about its enrolment. */
export const AgentState = z.object({
  hostId: z.string().min(1).max(64),
  apiUrl: z.url({ protocol: /^https?$/ }),
  wsPath: z.literal(AGENT_SOCKET_PATH),
  /** PKCS#8, base64url. */
  privateKey: base64Url.max(512),
  /** Raw Ed25519, base64url. */
  publicKey: base64Url.length(43),
  /** The API's raw Ed25519 public key, pinned at enrolment. */
  apiPublicKey: base64Url.length(43),
  enrolledAt: z.iso.datetime(),
}).strict();
export type AgentState = z.infer<typeof AgentState>;

/** Where the state file lives inside the agent directory. */
export function stateFilePath(dir: string): string {
  return join(dir, "agent.json");
}

/** Creates the agent directory (or tightens an existing one) with mode 0700. */
export async function ensureAgentDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}

/** Whether an enrolment already exists in `dir`. */
export async function stateFileExists(dir: string): Promise<boolean> {
  try {
    await stat(stateFilePath(dir));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}

/** Writes the state file atomically with mode 0600. */
export async function writeStateFile(dir: string, state: AgentState): Promise<void> {
  await ensureAgentDir(dir);
  await writeFileAtomic(
    stateFilePath(dir),
    `${JSON.stringify(AgentState.parse(state), null, 2)}\n`,
    0o600,
  );
}

/** Reads and validates the state file; throws an Error whose message says what is wrong. */
export async function readStateFile(dir: string): Promise<AgentState> {
  const path = stateFilePath(dir);
  let text: string;
  try {
    const info = await stat(path);
    // Like ssh with its keys: a private key others can read is no longer private.
    if ((info.mode & 0o077) !== 0) {
      const mode = (info.mode & 0o777).toString(8).padStart(4, "0");
      throw new Error(
        `state file ${path} is accessible by other users (mode ${mode}); run chmod 600 ${path}`,
      );
    }
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new Error(
        `the agent is not enrolled: ${path} does not exist; run "caddis-agent enroll" first`,
      );
    }
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`state file ${path} is corrupt: it is not valid JSON`);
  }
  const parsed = AgentState.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `${issue.path.join(".")}: ` : "";
    throw new Error(`state file ${path} is corrupt: ${where}${issue?.message ?? "invalid"}`);
  }
  let derived: string | null = null;
  try {
    derived = await publicKeyOf(parsed.data.privateKey);
  } catch {
    // reported below
  }
  if (derived !== parsed.data.publicKey) {
    throw new Error(`state file ${path} is corrupt: privateKey does not match publicKey`);
  }
  return parsed.data;
}
