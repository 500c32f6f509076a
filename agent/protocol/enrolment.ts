// The one HTTP exchange outside the socket: an agent trades a one-time enrolment token and its
// public key for its host id and the API's public key, which it pins.
import { z } from "zod";

/** Enrolment tokens: `cde_` and 52 base32 characters (32 random bytes). */
export const ENROLMENT_TOKEN_PATTERN = /^cde_[a-z2-7]{52}$/;

/** Path agents POST to with an EnrolRequest. */
export const ENROL_PATH = "/api/v1/agent/enroll";

/** Path agents dial for the socket. */
export const AGENT_SOCKET_PATH = "/api/v1/agent/ws";

/** Body of `POST /api/v1/agent/enroll`. */
export const EnrolRequest = z.object({
  token: z.string().regex(ENROLMENT_TOKEN_PATTERN, "is not an enrolment token"),
  /** Raw Ed25519 public key, base64url (32 bytes). */
  publicKey: z.string().regex(/^[A-Za-z0-9_-]{43}$/, "is not an Ed25519 public key"),
  hostname: z.string().min(1).max(255),
}).strict();
export type EnrolRequest = z.infer<typeof EnrolRequest>;

/** What the API answers: the agent keeps all of it in its state file. */
export const EnrolResponse = z.object({
  hostId: z.string().min(1).max(64),
  /** The API's raw Ed25519 public key, base64url: every command must verify against it. */
  apiPublicKey: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  wsPath: z.literal(AGENT_SOCKET_PATH),
}).strict();
export type EnrolResponse = z.infer<typeof EnrolResponse>;
