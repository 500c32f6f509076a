import { describe, expect, test } from "bun:test";
import { findViolations, maskSource, type SourceFile } from "./check-boundaries.ts";

/** The rules broken by one synthetic file, as `rule@line`. */
function rulesFor(path: string, text: string, others: SourceFile[] = []): string[] {
  return findViolations([{ path, text }, ...others]).violations
    .filter((v) => v.path === path)
    .map((v) => `${v.rule}@${v.line}`);
}

describe("agent isolation", () => {
  test("rejects an agent file importing api, web or db", () => {
    expect(rulesFor("agent/exec.ts", 'import { x } from "../api/app.ts";')).toEqual([
      "agent-isolation@1",
    ]);
    expect(rulesFor("agent/deploy.ts", 'import "../web/layout.tsx";')).toEqual([
      "agent-isolation@1",
    ]);
    expect(rulesFor("agent/protocol/frames.ts", 'export * from "../../db/schema.ts";'))
      .toContain("agent-isolation@1");
  });

  test("allows an agent file importing its own modules and the protocol", () => {
    const text = 'import { run } from "./exec.ts";\nimport { Frame } from "./protocol/frames.ts";';
    expect(rulesFor("agent/deploy.ts", text)).toEqual([]);
  });
});

describe("api, web and db see only agent/protocol", () => {
  test("rejects importing agent internals", () => {
    expect(rulesFor("api/hub/hub.ts", 'import { run } from "../../agent/exec.ts";')).toEqual([
      "agent-protocol-only@1",
    ]);
  });

  test("allows importing the protocol", () => {
    expect(rulesFor("api/hub/hub.ts", 'import { F } from "../../agent/protocol/frames.ts";'))
      .toEqual([]);
  });
});

describe("agent/protocol depends on zod only", () => {
  test("rejects other packages and files outside the protocol", () => {
    expect(rulesFor("agent/protocol/frames.ts", 'import { Hono } from "hono";')).toEqual([
      "protocol-deps@1",
    ]);
    expect(rulesFor("agent/protocol/frames.ts", 'import { x } from "../config.ts";')).toEqual([
      "protocol-deps@1",
    ]);
  });

  test("allows zod and sibling protocol files; its tests may use bun:test", () => {
    const text = 'import { z } from "zod";\nimport { Id } from "./ids.ts";';
    expect(rulesFor("agent/protocol/frames.ts", text)).toEqual([]);
    expect(rulesFor("agent/protocol/frames.test.ts", 'import { test } from "bun:test";'))
      .toEqual([]);
  });
});

describe("runtime-neutral code", () => {
  test("rejects Bun and Deno globals and bun modules outside entry files", () => {
    expect(rulesFor("api/log.ts", "const v = Bun.version;")).toEqual(["runtime-neutral@1"]);
    expect(rulesFor("web/assets.ts", "\nawait Deno.readFile(p);")).toEqual(["runtime-neutral@2"]);
    expect(rulesFor("db/client.ts", 'import { SQL } from "bun";')).toEqual(["runtime-neutral@1"]);
    expect(rulesFor("agent/protocol/x.ts", "globalThis.Deno?.exit(1);")).toContain(
      "runtime-neutral@1",
    );
    expect(rulesFor("api/x.ts", '/// <reference types="bun" />\nexport {};')).toEqual([
      "runtime-neutral@1",
    ]);
  });

  test("allows them in the entry files, in tests and in the agent", () => {
    expect(rulesFor("api/main-bun.ts", "Bun.serve({ fetch });")).toEqual([]);
    expect(rulesFor("api/main-deno.ts", "Deno.serve(fetch);")).toEqual([]);
    expect(rulesFor("api/app.test.ts", "Bun.spawn(argv);")).toEqual([]);
    expect(rulesFor("agent/exec.ts", "Bun.spawn(argv);")).toEqual([]);
  });

  test("does not count a property that happens to be named Bun", () => {
    expect(rulesFor("api/x.ts", "const n = names.Bun.length;")).toEqual([]);
  });
});

describe("drizzle placement", () => {
  test("rejects drizzle in routes, web and scripts", () => {
    expect(rulesFor("api/routes/sites.ts", 'import { eq } from "drizzle-orm";')).toEqual([
      "drizzle-placement@1",
    ]);
    expect(rulesFor("web/pages/sites.tsx", 'import type { SQL } from "drizzle-orm/sql";'))
      .toEqual(["drizzle-placement@1"]);
    expect(rulesFor("scripts/create-admin.ts", 'import { eq } from "drizzle-orm";')).toEqual([
      "drizzle-placement@1",
    ]);
  });

  test("allows db, services, auth, the readiness allowlist and their tests", () => {
    const text = 'import { sql } from "drizzle-orm";';
    for (const path of ["db/schema.ts", "api/services/sites.ts", "api/auth/sessions.ts"]) {
      expect(rulesFor(path, text)).toEqual([]);
    }
    expect(rulesFor("api/readiness.ts", text)).toEqual([]);
    expect(rulesFor("api/readiness.test.ts", text)).toEqual([]);
  });

  test("allows tests anywhere to arrange and inspect rows", () => {
    const text = 'import { eq } from "drizzle-orm";';
    expect(rulesFor("api/routes/roles.test.ts", text)).toEqual([]);
    expect(rulesFor("web/pages/members.test.ts", text)).toEqual([]);
    expect(rulesFor("web/pages/members.tsx", text)).toEqual(["drizzle-placement@1"]);
  });
});

describe("environment access", () => {
  test("rejects process.env outside entry files, scripts and tests", () => {
    expect(rulesFor("api/config.ts", "const u = process.env.DATABASE_URL;")).toEqual([
      "env-access@1",
    ]);
    expect(rulesFor("agent/hub-client.ts", "const u = Bun.env.HUB;")).toEqual(["env-access@1"]);
  });

  test("allows it in the entry files, agent/main.ts, scripts and tests", () => {
    const text = "const e = process.env;";
    for (const path of ["api/main-bun.ts", "agent/main.ts", "scripts/x.ts", "api/a.test.ts"]) {
      expect(rulesFor(path, text)).toEqual([]);
    }
  });
});

describe("file and import naming", () => {
  test("rejects relative imports without an explicit .ts/.tsx extension", () => {
    const text = 'import { a } from "./a";\nimport { b } from "./b.js";\nawait import("../c");';
    expect(rulesFor("api/x.ts", text)).toEqual([
      "import-extension@1",
      "import-extension@2",
      "import-extension@3",
    ]);
  });

  test("allows .ts, .tsx and package imports", () => {
    const text = 'import { a } from "./a.ts";\nimport { L } from "../web/l.tsx";\nimport "hono";';
    expect(rulesFor("api/x.ts", text)).toEqual([]);
  });

  test("rejects index.ts barrels", () => {
    expect(rulesFor("api/routes/index.ts", "export {};")).toEqual(["no-index@1"]);
  });
});

describe("comments and strings do not count", () => {
  test("ignores mentions inside comments", () => {
    const text = [
      "// import { x } from '../agent/exec.ts'; Bun.version; process.env.X",
      "/* Deno.exit(1); import 'drizzle-orm'; */",
      "/** see `import('./a')` */",
      "export const a = 1;",
    ].join("\n");
    expect(rulesFor("api/x.ts", text)).toEqual([]);
  });

  test("ignores mentions inside strings, templates and regexes", () => {
    const text = [
      'const a = "Bun.version and process.env";',
      "const b = `from 'drizzle-orm' ${a} Deno.exit`;",
      "const c = /\\/\\/ from 'bun'/.test(a) ? \"'\" : '\"';",
      "const d = 'import \"../agent/exec.ts\"';",
    ].join("\n");
    expect(rulesFor("api/x.ts", text)).toEqual([]);
  });

  test("still sees code inside a template expression and after a regex with slashes", () => {
    const text = "const r = /^https?:\\/\\//;\nconst s = `${Bun.version}`;";
    expect(rulesFor("api/x.ts", text)).toEqual(["runtime-neutral@2"]);
  });

  test("keeps line numbers through multi-line comments", () => {
    const masked = maskSource("/* a\nb */\nx");
    expect(masked.code).toBe("    \n    \nx");
  });
});
