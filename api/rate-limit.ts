// Request budgets per client: the signed-in user when there is one, the (proxy-aware) client
// address otherwise. Fixed windows aligned to the clock (each minute, each hour): simple and
// cheap to share between replicas, at the cost of allowing up to twice a budget across a
// window boundary. Rejected requests count too, so hammering through a 429 is not free.
import type { Context, MiddlewareHandler } from "hono";
import { ipThrottleKey } from "./auth/throttle.ts";
import type { AppDeps, AppEnv } from "./deps.ts";
import { AppError } from "./errors.ts";
import type { RateLimitGroup, RateLimitRule } from "./rate-limit-config.ts";
import type { RateLimitCounter } from "./rate-limit-store.ts";
import { AGENT_SOCKET_PATH } from "../agent/protocol/enrolment.ts";

const EXEMPT_PATHS = new Set(["/healthz", "/readyz"]);
// Public posts that check a password or spend a one-time token, outside `/api/v1/auth/`.
const AUTH_API_POSTS = new Set([
  "/api/v1/setup",
  "/api/v1/invitations/accept",
  "/api/v1/agent/enroll",
]);
const AUTH_PAGE_POSTS = new Set(["/login", "/login/2fa", "/setup", "/reset-password", "/invite"]);
// A store outage is logged at most this often rather than on every request.
const OUTAGE_LOG_INTERVAL_MS = 60_000;

/** The budget a request counts against; undefined for probes and static files, never limited. */
export function rateLimitGroup(method: string, path: string): RateLimitGroup | undefined {
  if (EXEMPT_PATHS.has(path) || path.startsWith("/static/")) return undefined;
  // Only posts carry passwords, codes and tokens to check; reading one's own sessions or showing
  // a form is ordinary traffic, and a panel reloading it must not trip the strict budget.
  if (method === "POST" && isAuthPost(path)) return "auth";
  if (path === AGENT_SOCKET_PATH) return "agent";
  if (path === "/api" || path.startsWith("/api/")) return "api";
  return "pages";
}

function isAuthPost(path: string): boolean {
  return path.startsWith("/api/v1/auth/") || AUTH_API_POSTS.has(path) || AUTH_PAGE_POSTS.has(path);
}

/**
 * Counts the request against its group's rules and refuses it with 429 past any of them. Mount
 * after `authenticate`, so a signed-in user has one budget whichever address they come from.
 */
export function rateLimit(deps: AppDeps): MiddlewareHandler<AppEnv> {
  let lastOutageLog = 0;
  return async (c, next) => {
    const group = rateLimitGroup(c.req.method, c.req.path);
    const rules = group ? deps.config.rateLimits[group] : [];
    const client = clientKey(c);
    // No address happens only without a socket (`app.request()` in tests); every runtime
    // adapter supplies one, and one shared "unknown" budget would let anyone starve everyone.
    if (!group || rules.length === 0 || !client) return next();

    const now = deps.now();
    const counters = rules.map((rule) => counterFor(group, client, rule, now));
    let counts: number[];
    try {
      counts = await deps.rateLimitStore.hit(counters, now);
    } catch (err) {
      // Limits protect capacity, not access: an unreachable store must not take the panel down.
      if (now.getTime() - lastOutageLog >= OUTAGE_LOG_INTERVAL_MS) {
        lastOutageLog = now.getTime();
        deps.log.warn({ err }, "rate-limit store failed; requests pass unlimited meanwhile");
      }
      return next();
    }

    const state = counters.map((counter, i): RuleState => ({
      rule: counter.rule,
      count: counts[i] ?? 0,
      resetSeconds: Math.max(
        1,
        Math.ceil(
          (counter.windowStart.getTime() + counter.windowSeconds * 1000 - now.getTime()) /
            1000,
        ),
      ),
    }));
    const exceeded = state.filter((s) => s.count > s.rule.limit);
    const headers = rateLimitHeaders(state, exceeded);
    if (exceeded.length > 0) {
      for (const [name, value] of Object.entries(headers)) c.header(name, value);
      const worst = exceeded.reduce((a, b) => (b.resetSeconds > a.resetSeconds ? b : a));
      throw new AppError(
        "rate_limited",
        `Too many requests: at most ${worst.rule.limit} per ${windowName(worst.rule)} ` +
          `for this client; try again in ${worst.resetSeconds} s`,
        undefined,
        worst.resetSeconds,
      );
    }
    await next();
    for (const [name, value] of Object.entries(headers)) c.res.headers.set(name, value);
  };
}

function clientKey(c: Context<AppEnv>): string | undefined {
  const auth = c.get("auth");
  // An API token has a budget of its own, so a busy CI job cannot lock its owner out of the panel.
  if (auth?.token) return `token:${auth.token.id}`;
  if (auth) return `user:${auth.userId}`;
  const ip = c.get("clientIp");
  // IPv6 by its /64, as sign-in throttling does: one host can use any address in its subnet.
  return ip ? ipThrottleKey(ip) : undefined;
}

function counterFor(
  group: RateLimitGroup,
  client: string,
  rule: RateLimitRule,
  now: Date,
): RateLimitCounter & { rule: RateLimitRule } {
  const windowMs = rule.windowSeconds * 1000;
  return {
    key: `${group}:${rule.windowSeconds}:${client}`,
    windowStart: new Date(Math.floor(now.getTime() / windowMs) * windowMs),
    windowSeconds: rule.windowSeconds,
    rule,
  };
}

interface RuleState {
  rule: RateLimitRule;
  count: number;
  resetSeconds: number;
}

/**
 * The `RateLimit-*` fields of draft-ietf-httpapi-ratelimit-headers for the rule that binds:
 * when refused, the exceeded rule that resets last; otherwise the one with least left.
 */
function rateLimitHeaders(state: RuleState[], exceeded: RuleState[]): Record<string, string> {
  const left = (s: RuleState) => Math.max(0, s.rule.limit - s.count);
  const binding = exceeded.length > 0
    ? exceeded.reduce((a, b) => (b.resetSeconds > a.resetSeconds ? b : a))
    : state.reduce((a, b) =>
      left(b) < left(a) || (left(b) === left(a) && b.resetSeconds > a.resetSeconds) ? b : a
    );
  return {
    "RateLimit-Limit": String(binding.rule.limit),
    "RateLimit-Remaining": String(left(binding)),
    "RateLimit-Reset": String(binding.resetSeconds),
    "RateLimit-Policy": state.map((s) => `${s.rule.limit};w=${s.rule.windowSeconds}`).join(", "),
  };
}

function windowName(rule: RateLimitRule): string {
  const names: Record<number, string> = { 1: "second", 60: "minute", 3600: "hour", 86400: "day" };
  return names[rule.windowSeconds] ?? `${rule.windowSeconds} s`;
}
