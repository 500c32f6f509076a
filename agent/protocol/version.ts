/** The wire protocol's version; `hello` carries it and the API refuses one it does not speak. */
export const PROTOCOL_VERSION = 1;

/** Largest frame either side accepts; a bigger one closes the socket with MESSAGE_TOO_BIG. */
export const MAX_FRAME_BYTES = 1024 * 1024;

/** WebSocket close codes the two sides use (4000–4999 are free for applications). */
export const CLOSE = {
  normal: 1000,
  /** RFC 6455: the frame exceeded MAX_FRAME_BYTES. */
  messageTooBig: 1009,
  /** The challenge was not answered correctly in time. */
  authFailed: 4401,
  /** The host was revoked, or another connection for the same host replaced this one. */
  revoked: 4403,
  replaced: 4409,
  /** The agent speaks a protocol version the API does not. */
  unsupportedProtocol: 4426,
  /** No frame from the peer for PEER_TIMEOUT_MS. */
  peerTimeout: 4408,
} as const;

/** Timings both sides agree on. */
export const TIMING = {
  /** The agent must answer the challenge within this long after the socket opens. */
  challengeTimeoutMs: 5_000,
  /** Each side sends a heartbeat this often. */
  heartbeatMs: 15_000,
  /** A peer silent for this long is offline; its socket is closed. */
  peerTimeoutMs: 45_000,
  /** The agent samples CPU, load, memory and disk this often. */
  metricsMs: 30_000,
  /** Clock difference tolerated on signed times (auth answers, command validity). */
  clockSkewMs: 60_000,
} as const;
