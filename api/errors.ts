/** The closed list of error codes Caddis returns, each mapped to exactly one HTTP status here. */
export const ERROR_STATUS = {
  bad_request: 400,
  invalid_input: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
} as const;

/** One of the codes in {@link ERROR_STATUS}. */
export type ErrorCode = keyof typeof ERROR_STATUS;

/** The HTTP status codes an {@link AppError} can map to. */
export type ErrorStatus = (typeof ERROR_STATUS)[ErrorCode];

/** The one error type services and routes throw; its message is safe to show to the caller. */
export class AppError extends Error {
  override readonly name = "AppError";

  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Field-level problems for `invalid_input`; never secrets. */
    readonly fields?: Record<string, string>,
    /** For `rate_limited` and `unavailable`: when to try again, sent as `Retry-After`. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }

  /** The HTTP status this error's code maps to. */
  get status(): ErrorStatus {
    return ERROR_STATUS[this.code];
  }
}

/** The JSON body every error response carries. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; requestId: string; fields?: Record<string, string> };
}

/** Builds the error body for `err`, keeping internal causes out of it. */
export function errorBody(err: AppError, requestId: string): ErrorBody {
  const error: ErrorBody["error"] = { code: err.code, message: err.message, requestId };
  if (err.fields) error.fields = err.fields;
  return { error };
}
