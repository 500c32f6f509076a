import { expect, test } from "bun:test";
import { generateKeyringEntry } from "./auth/secrets.ts";
import { ConfigError, readConfig } from "./config.ts";
import { randomAgentSigningKey } from "../scripts/testing/secrets.ts";
import { DEFAULT_RATE_LIMITS, parseRateLimits } from "./rate-limit-config.ts";

const SECRETS = {
  CADDIS_SECRET_KEY: crypto.randomUUID() + crypto.randomUUID(),
  CADDIS_ENCRYPTION_KEYS: generateKeyringEntry(1),
  CADDIS_AGENT_SIGNING_KEY: randomAgentSigningKey(),
};

function problemsOf(value: string): string[] {
  return parseRateLimits(value).problems;
}

test("unset means the defaults: 60/min and 1000/hour for the API, stricter for auth", () => {
  expect(parseRateLimits("").limits).toEqual(DEFAULT_RATE_LIMITS);
  expect(DEFAULT_RATE_LIMITS.api).toEqual([
    { limit: 60, windowSeconds: 60 },
    { limit: 1000, windowSeconds: 3600 },
  ]);
  expect(DEFAULT_RATE_LIMITS.auth).toEqual([
    { limit: 10, windowSeconds: 60 },
    { limit: 100, windowSeconds: 3600 },
  ]);
});

test("a named group replaces its defaults; the others keep theirs", () => {
  const { limits } = parseRateLimits(" auth = 5/min ; api=2000/hour, 120/m ;");
  expect(limits?.auth).toEqual([{ limit: 5, windowSeconds: 60 }]);
  // Sorted shortest window first whatever the order written.
  expect(limits?.api).toEqual([
    { limit: 120, windowSeconds: 60 },
    { limit: 2000, windowSeconds: 3600 },
  ]);
  expect(limits?.pages).toEqual(DEFAULT_RATE_LIMITS.pages);
});

test("every window unit and off are understood", () => {
  const { limits } = parseRateLimits("api=5/s,100/minute,1000/h,9000/day;pages=off");
  expect(limits?.api.map((r) => r.windowSeconds)).toEqual([1, 60, 3600, 86400]);
  expect(limits?.pages).toEqual([]);
});

test("bad strings are refused with a message naming the entry and the fix", () => {
  expect(problemsOf("api")).toEqual([
    `"api": expected <group>=<count>/<window>, e.g. api=60/min,1000/hour`,
  ]);
  expect(problemsOf("login=5/min")).toEqual([
    `"login=5/min": unknown group "login"; use api, auth, pages, agent`,
  ]);
  expect(problemsOf("api=60/fortnight")).toEqual([
    `group "api": "60/fortnight" is not <count>/<window> with window sec, min, hour or day`,
  ]);
  expect(problemsOf("api=60 per min")).toHaveLength(1);
  expect(problemsOf("api=-1/min")).toHaveLength(1);
  expect(problemsOf("api=0/min")).toEqual([
    `group "api": "0/min" count must be 1–1000000000 (or use off)`,
  ]);
  expect(problemsOf("api=60/min,70/minute")).toEqual([
    `group "api": two rules per minute; keep one`,
  ]);
  expect(problemsOf("api=")).toEqual([
    `group "api" has no rules; write e.g. api=60/min, or api=off`,
  ]);
  expect(problemsOf("api=60/min;api=1000/hour")).toEqual([
    `group "api" is given twice; list all its rules in one entry`,
  ]);
});

test("readConfig reports every rate-limit problem at once, alongside the others", () => {
  let error: unknown;
  try {
    readConfig({
      ...SECRETS,
      CADDIS_RATE_LIMITS: "api=60/fortnight;nope=1/min",
      CADDIS_RATE_LIMIT_STORE: "redis",
    });
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(ConfigError);
  const problems = (error as ConfigError).problems;
  expect(problems.filter((p) => p.startsWith("CADDIS_RATE_LIMITS: "))).toHaveLength(2);
  expect(problems.some((p) => p.startsWith("CADDIS_RATE_LIMIT_STORE"))).toBe(true);
});

test("readConfig defaults to the in-memory store and accepts postgres", () => {
  expect(readConfig(SECRETS).rateLimitStore).toBe("memory");
  const config = readConfig({
    ...SECRETS,
    CADDIS_RATE_LIMIT_STORE: "postgres",
    CADDIS_RATE_LIMITS: "auth=3/min",
  });
  expect(config.rateLimitStore).toBe("postgres");
  expect(config.rateLimits.auth).toEqual([{ limit: 3, windowSeconds: 60 }]);
});
