// `CADDIS_RATE_LIMITS`: per-group request budgets, overriding the defaults one group at a time.
//
//   CADDIS_RATE_LIMITS="api=120/min,2000/hour;auth=5/min"   pages keeps its default
//   CADDIS_RATE_LIMITS="pages=off"                            no limit on HTML pages
//
// Grammar: entries separated by ";", each `<group>=<rule>[,<rule>…]` or `<group>=off`; a rule is
// `<count>/<window>` with window one of sec, min, hour, day (also s, m, h, d, second, minute).
// A group named here replaces that group's whole default list; at most one rule per window.

/** The endpoint groups, each with budgets of its own. */
export const RATE_LIMIT_GROUPS = ["api", "auth", "pages", "agent"] as const;

/**
 * One endpoint group: `auth` (sign-in, setup, reset), `api` (other JSON), `pages` (HTML), `agent`
 * (agent socket connections, which many hosts behind one address may open).
 */
export type RateLimitGroup = (typeof RATE_LIMIT_GROUPS)[number];

/** At most `limit` requests per fixed window of `windowSeconds`, aligned to the clock. */
export interface RateLimitRule {
  limit: number;
  windowSeconds: number;
}

/** The rules of every group, shortest window first; an empty list means unlimited. */
export type RateLimits = Record<RateLimitGroup, readonly RateLimitRule[]>;

/** Budgets used for any group `CADDIS_RATE_LIMITS` does not name. */
export const DEFAULT_RATE_LIMITS: RateLimits = {
  api: [{ limit: 60, windowSeconds: 60 }, { limit: 1000, windowSeconds: 3600 }],
  auth: [{ limit: 10, windowSeconds: 60 }, { limit: 100, windowSeconds: 3600 }],
  // A page load is one request (assets are exempt), but people click around quickly.
  pages: [{ limit: 300, windowSeconds: 60 }, { limit: 5000, windowSeconds: 3600 }],
  // Each connection must still pass the signed challenge; the budget only blunts socket floods
  // while leaving room for a fleet behind one NAT reconnecting after an API restart.
  agent: [{ limit: 600, windowSeconds: 60 }, { limit: 20_000, windowSeconds: 3600 }],
};

const WINDOW_SECONDS: Record<string, number> = {
  s: 1,
  sec: 1,
  second: 1,
  m: 60,
  min: 60,
  minute: 60,
  h: 3600,
  hour: 3600,
  d: 86400,
  day: 86400,
};

const MAX_LIMIT = 1_000_000_000;

/** Parses `CADDIS_RATE_LIMITS`; returns every problem found rather than stopping at the first. */
export function parseRateLimits(
  value: string,
): { limits: RateLimits; problems: [] } | { limits: undefined; problems: string[] } {
  const limits: Record<RateLimitGroup, readonly RateLimitRule[]> = { ...DEFAULT_RATE_LIMITS };
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const rawEntry of value.split(";")) {
    const entry = rawEntry.trim();
    if (entry === "") continue;
    const eq = entry.indexOf("=");
    if (eq === -1) {
      problems.push(`"${entry}": expected <group>=<count>/<window>, e.g. api=60/min,1000/hour`);
      continue;
    }
    const group = entry.slice(0, eq).trim();
    if (!isGroup(group)) {
      problems.push(`"${entry}": unknown group "${group}"; use ${RATE_LIMIT_GROUPS.join(", ")}`);
      continue;
    }
    if (seen.has(group)) {
      problems.push(`group "${group}" is given twice; list all its rules in one entry`);
      continue;
    }
    seen.add(group);
    const rules = parseRules(group, entry.slice(eq + 1), problems);
    if (rules) limits[group] = rules;
  }
  return problems.length > 0 ? { limits: undefined, problems } : { limits, problems: [] };
}

function parseRules(group: string, text: string, problems: string[]) {
  const body = text.trim();
  if (body === "off") return [];
  if (body === "") {
    problems.push(`group "${group}" has no rules; write e.g. ${group}=60/min, or ${group}=off`);
    return undefined;
  }
  const rules: RateLimitRule[] = [];
  let ok = true;
  for (const rawRule of body.split(",")) {
    const rule = rawRule.trim();
    const match = /^(\d+)\s*\/\s*([a-z]+)$/.exec(rule);
    const unit = match?.[2] ?? "";
    const windowSeconds = match ? WINDOW_SECONDS[unit] : undefined;
    const limit = match ? Number(match[1]) : NaN;
    if (!match || windowSeconds === undefined) {
      problems.push(
        `group "${group}": "${rule}" is not <count>/<window> with window sec, min, hour or day`,
      );
      ok = false;
    } else if (!(limit >= 1 && limit <= MAX_LIMIT)) {
      problems.push(`group "${group}": "${rule}" count must be 1–${MAX_LIMIT} (or use off)`);
      ok = false;
    } else if (rules.some((r) => r.windowSeconds === windowSeconds)) {
      problems.push(`group "${group}": two rules per ${unit}; keep one`);
      ok = false;
    } else {
      rules.push({ limit, windowSeconds });
    }
  }
  return ok ? rules.sort((a, b) => a.windowSeconds - b.windowSeconds) : undefined;
}

function isGroup(name: string): name is RateLimitGroup {
  return (RATE_LIMIT_GROUPS as readonly string[]).includes(name);
}
