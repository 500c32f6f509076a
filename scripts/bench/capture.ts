// Captures one real response so the bare baseline can serve exactly the same bytes and headers.

/** A response as the bare server replays it. */
export interface CapturedResponse {
  status: number;
  headers: [string, string][];
  body: string;
}

// Set by the replaying server itself; copying them would duplicate or contradict them.
const HOP_HEADERS = new Set(["content-length", "date", "transfer-encoding", "connection"]);

/** Fetches `url` once and keeps its status, end-to-end headers and body. */
export async function captureResponse(url: string): Promise<CapturedResponse> {
  const res = await fetch(url);
  const headers = [...res.headers.entries()].filter(([name]) => !HOP_HEADERS.has(name));
  return { status: res.status, headers, body: await res.text() };
}
