import { expect } from "bun:test";
import type { ErrorBody } from "../../api/errors.ts";
import type { TestApp } from "./app.ts";
import { bearer } from "./auth.ts";

/** An error response's `error`, less the request id that differs on every response. */
export type ErrorWithoutRequestId = Omit<ErrorBody["error"], "requestId">;

/** Calls the JSON API as the bearer of `token`, sending `body` as JSON when there is one. */
export function callApi(
  t: TestApp,
  token: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return Promise.resolve(t.app.request(path, {
    method,
    headers: { ...bearer(token), "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  }));
}

/** The `error` of a parsed error body without its request id, so two refusals can be compared. */
export function withoutRequestId(body: unknown): ErrorWithoutRequestId {
  const { requestId: _, ...error } = (body as ErrorBody).error;
  return error;
}

/** Reads an error response's `error` without its request id, first checking `status` if given. */
export async function errorOf(res: Response, status?: number): Promise<ErrorWithoutRequestId> {
  if (status !== undefined) expect(res.status).toBe(status);
  return withoutRequestId(await res.json());
}
