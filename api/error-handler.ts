import type { Context, Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { isDatabaseUnavailable } from "./db-errors.ts";
import type { AppEnv } from "./deps.ts";
import { AppError, errorBody, type ErrorCode } from "./errors.ts";
import type { Logger } from "./log.ts";

const CODE_FOR_HTTP_STATUS: Record<number, ErrorCode> = {
  400: "bad_request",
  401: "unauthenticated",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  409: "conflict",
  413: "payload_too_large",
  429: "rate_limited",
  503: "unavailable",
};

/** Turns anything thrown into the one error shape; unknown causes go to the log only. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof HTTPException) {
    const code = CODE_FOR_HTTP_STATUS[err.status] ?? "internal";
    return new AppError(code, code === "internal" ? "Internal error" : err.message || code);
  }
  if (isDatabaseUnavailable(err)) {
    return new AppError("unavailable", "The database is unreachable; try again shortly");
  }
  return new AppError("internal", "Internal error");
}

/** The app's `onError`: maps to HTTP once, logs the real cause under the request id. */
export function handleError(log: Logger) {
  return (err: unknown, c: Context<AppEnv>) => {
    const appError = toAppError(err);
    const requestId = c.get("requestId") ?? "unknown";
    if (appError.code === "internal" || appError.code === "unavailable") {
      log.error({ err, requestId }, "request error");
    }
    if (appError.retryAfterSeconds !== undefined) {
      c.header("Retry-After", String(Math.max(1, Math.ceil(appError.retryAfterSeconds))));
    } else if (appError.code === "unavailable") {
      c.header("Retry-After", "5");
    }
    return c.json(errorBody(appError, requestId), appError.status);
  };
}

/** The app's `notFound`: 405 with `Allow` when the path exists under other methods, else 404. */
export function handleNotFound(app: Hono<AppEnv>) {
  const table = routeTable(app);
  return (c: Context<AppEnv>) => {
    const allowed = table.allowedMethods(c.req.path);
    const requestId = c.get("requestId") ?? "unknown";
    if (allowed.length > 0) {
      c.header("Allow", allowed.join(", "));
      const error = new AppError(
        "method_not_allowed",
        `${c.req.method} is not allowed on ${c.req.path}; use ${allowed.join(", ")}`,
      );
      return c.json(errorBody(error, requestId), 405);
    }
    const error = new AppError("not_found", `No route for ${c.req.method} ${c.req.path}`);
    return c.json(errorBody(error, requestId), 404);
  };
}

/** Which methods each registered path answers; rebuilt when routes are added after start. */
function routeTable(app: Hono<AppEnv>) {
  let built = -1;
  let entries: { pattern: RegExp; method: string }[] = [];
  return {
    allowedMethods(path: string): string[] {
      if (built !== app.routes.length) {
        // Middleware registers as ALL; only concrete methods say what a path supports.
        entries = app.routes
          .filter((r) => r.method !== "ALL")
          .map((r) => ({ pattern: pathPattern(r.path), method: r.method }));
        built = app.routes.length;
      }
      const methods = new Set(entries.filter((e) => e.pattern.test(path)).map((e) => e.method));
      if (methods.has("GET")) methods.add("HEAD");
      return [...methods].sort();
    },
  };
}

function pathPattern(path: string): RegExp {
  const source = path
    .split("/")
    .map((part) => {
      if (part === "*") return ".*";
      if (part.startsWith(":")) return "[^/]+";
      return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    })
    .join("/");
  return new RegExp(`^${source}/?$`);
}
