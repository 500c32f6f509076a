// `bun scripts/check-boundaries.ts`: enforces the import rules of ARCHITECTURE §2 over every
// .ts/.tsx file, so the layering holds by CI rather than by review. Pure core, thin CLI below.
import { readdir, readFile } from "node:fs/promises";
import { basename, join, posix, resolve } from "node:path";

/** One source file, by repository-relative POSIX path. */
export interface SourceFile {
  path: string;
  text: string;
}

/** A broken rule at one line of one file. */
export interface Violation {
  path: string;
  line: number;
  rule: string;
  detail: string;
}

/** Directories never scanned: dependencies, runtime data, caches, vendored third-party code. */
export const IGNORED_DIRS = ["node_modules", "data", ".cache", ".git", "web/static/vendor"];

const ENTRY_FILES = ["api/main-bun.ts", "api/main-deno.ts"];
const ENV_READERS = ["api/main-bun.ts", "api/main-deno.ts", "agent/main.ts"];
const DRIZZLE_DIRS = ["db/", "api/services/", "api/auth/"];
// Files outside DRIZZLE_DIRS that need only the driver-neutral `sql` tag. Keep this short.
const DRIZZLE_ALLOWLIST = ["api/readiness.ts"];
const NEUTRAL_DIRS = ["api/", "web/", "db/", "agent/protocol/"];

/** True for files run only by `bun test`. */
export function isTestFile(path: string): boolean {
  return /\.test\.tsx?$/.test(path);
}

/** Code with comments and string contents blanked (offsets kept), plus each literal by offset. */
export interface MaskedSource {
  code: string;
  strings: Map<number, string>;
}

const REGEX_AFTER_WORD = new Set(
  "return typeof instanceof in of new delete void throw case do else yield await".split(" "),
);

/**
 * Blanks comments, string/template/regex contents so that a mention there never counts, while
 * keeping every offset (and so every line number) of the real code. Single- and double-quoted
 * strings end at a newline, so JSX text like `don't` can confuse at most one line.
 */
export function maskSource(text: string): MaskedSource {
  const out = text.split("");
  const strings = new Map<number, string>();
  const blank = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (out[k] !== "\n") out[k] = " ";
  };
  const exprDepths: number[] = []; // brace depth at which each `${` returns to its template
  let braces = 0;
  let prev = ""; // last significant token, to tell a regex from a division
  let i = 0;

  // Scans template text from `from`; returns where it stopped and whether at `${` or the end.
  const templateChunk = (from: number): { end: number; expr: boolean } => {
    let k = from;
    while (k < text.length) {
      if (text[k] === "\\") k += 2;
      else if (text[k] === "`") return { end: k + 1, expr: false };
      else if (text[k] === "$" && text[k + 1] === "{") return { end: k + 2, expr: true };
      else k++;
    }
    return { end: text.length, expr: false };
  };
  const enterTemplate = (from: number, start?: number) => {
    const chunk = templateChunk(from);
    const closeLen = chunk.expr ? 2 : 1;
    blank(from, Math.max(from, chunk.end - closeLen));
    if (!chunk.expr && start !== undefined) strings.set(start, text.slice(from, chunk.end - 1));
    if (chunk.expr) exprDepths.push(braces++);
    prev = chunk.expr ? "{" : "x";
    i = chunk.end;
  };

  while (i < text.length) {
    const ch = text[i]!;
    const next = text[i + 1];
    if (ch === "/" && next === "/") {
      const end = text.indexOf("\n", i);
      blank(i, end < 0 ? text.length : end);
      i = end < 0 ? text.length : end;
    } else if (ch === "/" && next === "*") {
      const end = text.indexOf("*/", i + 2);
      const stop = end < 0 ? text.length : end + 2;
      blank(i, stop);
      i = stop;
    } else if (ch === '"' || ch === "'") {
      let k = i + 1;
      while (k < text.length && text[k] !== ch && text[k] !== "\n") k += text[k] === "\\" ? 2 : 1;
      strings.set(i, text.slice(i + 1, k));
      blank(i + 1, k);
      i = k < text.length && text[k] === ch ? k + 1 : k;
      prev = "x";
    } else if (ch === "`") {
      enterTemplate(i + 1, i);
    } else if (ch === "}" && exprDepths.length > 0 && braces - 1 === exprDepths.at(-1)) {
      exprDepths.pop();
      braces--;
      enterTemplate(i + 1);
    } else if (
      ch === "/" && (prev === "" || /^[(,=:[!&|?{};+\-*%<>~^]$/.test(prev) ||
        REGEX_AFTER_WORD.has(prev))
    ) {
      let k = i + 1;
      let inClass = false;
      while (k < text.length && text[k] !== "\n" && (inClass || text[k] !== "/")) {
        if (text[k] === "\\") k++;
        else if (text[k] === "[") inClass = true;
        else if (text[k] === "]") inClass = false;
        k++;
      }
      blank(i + 1, k);
      i = k + 1;
      prev = "x";
    } else if (/[\w$]/.test(ch)) {
      const word = /^[\w$]+/.exec(text.slice(i, i + 64))![0];
      prev = word;
      i += word.length;
    } else {
      if (ch === "{") braces++;
      if (ch === "}") braces--;
      if (!/\s/.test(ch)) prev = ch;
      i++;
    }
  }
  return { code: out.join(""), strings };
}

/** A module specifier found in code, with its line. */
export interface ImportRef {
  specifier: string;
  line: number;
}

const IMPORT_PATTERNS = [
  /\bfrom\s*(?=["'])/g, // import … from "x", export … from "x"
  /\bimport\s*(?=["'])/g, // import "x"
  /\bimport\s*\(\s*(?=["'`])/g, // import("x")
  /\brequire\s*\(\s*(?=["'`])/g, // require("x"), import x = require("x")
];

/** Every static, side-effect, dynamic and require import specifier written as a literal. */
export function findImports(masked: MaskedSource, lineOf: (offset: number) => number): ImportRef[] {
  const refs: ImportRef[] = [];
  for (const pattern of IMPORT_PATTERNS) {
    for (const match of masked.code.matchAll(pattern)) {
      const at = match.index + match[0].length;
      const specifier = masked.strings.get(at);
      if (specifier !== undefined) refs.push({ specifier, line: lineOf(at) });
    }
  }
  return refs.sort((a, b) => a.line - b.line);
}

function lineIndex(text: string): (offset: number) => number {
  const starts = [0];
  for (let k = 0; k < text.length; k++) if (text[k] === "\n") starts.push(k + 1);
  return (offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
}

const under = (path: string, dirs: string[]) => dirs.some((dir) => path.startsWith(dir));
// A test may import what the file it tests may: `readiness.test.ts` shares `readiness.ts`'s rules.
const subjectOf = (path: string) => path.replace(/\.test(\.tsx?)$/, "$1");

const RUNTIME_GLOBAL = /(?<![\w$.])(Bun|Deno)\s*(\?\.|\.|\[)|\bglobalThis\s*\??\.\s*(Bun|Deno)\b/g;
const RUNTIME_TYPES = /^\s*\/\/\/\s*<reference\s+(?:types|lib)=["'](bun[\w-]*|deno[\w.]*)["']/gm;
const ENV_READ = /(?<![\w$])(process|Bun|Deno)\s*(?:\?\.|\.)\s*env\b|\bimport\.meta\.env\b/g;

/** The rules one import breaks, as [rule, detail] pairs. */
function importViolations(path: string, specifier: string): [string, string][] {
  const found: [string, string][] = [];
  const relativeSpec = specifier.startsWith("./") || specifier.startsWith("../");
  const target = relativeSpec ? posix.normalize(posix.join(posix.dirname(path), specifier)) : "";
  const test = isTestFile(path);
  if (relativeSpec && !/\.(tsx?|json)$/.test(specifier)) {
    found.push(["import-extension", `"${specifier}" needs an explicit .ts/.tsx extension`]);
  }
  if (path.startsWith("agent/") && /^(api|web|db)\//.test(target)) {
    found.push(["agent-isolation", `agent code imports "${specifier}" (${target})`]);
  }
  if (/^(api|web|db)\//.test(path) && /^agent\/(?!protocol\/)/.test(target)) {
    found.push(["agent-protocol-only", `"${specifier}" is agent-internal; use agent/protocol/`]);
  }
  const protocolDep = /^zod(\/|$)/.test(specifier) || target.startsWith("agent/protocol/") ||
    (test && specifier === "bun:test");
  if (path.startsWith("agent/protocol/") && !protocolDep) {
    found.push(["protocol-deps", `agent/protocol imports only zod, not "${specifier}"`]);
  }
  if (isNeutral(path) && /^bun(:|$)/.test(specifier)) {
    found.push(["runtime-neutral", `imports "${specifier}"; only the entry files may`]);
  }
  const subject = subjectOf(path);
  // Tests anywhere may arrange and inspect rows directly (a revoked grant, a stored hash): they
  // are not the app, and typed queries beat raw SQL strings there.
  const drizzleAllowed = test || under(subject, DRIZZLE_DIRS) ||
    DRIZZLE_ALLOWLIST.includes(subject);
  if (/^drizzle-orm(\/|$)/.test(specifier) && !drizzleAllowed) {
    found.push(["drizzle-placement", `imports "${specifier}"; queries belong in api/services/`]);
  }
  return found;
}

function isNeutral(path: string): boolean {
  return under(path, NEUTRAL_DIRS) && !ENTRY_FILES.includes(path) && !isTestFile(path);
}

/** Checks every rule over the given files; pure, so tests feed it synthetic files. */
export function findViolations(files: SourceFile[]): { violations: Violation[]; imports: number } {
  const violations: Violation[] = [];
  let imports = 0;
  for (const { path, text } of files) {
    const report = (line: number, rule: string, detail: string) =>
      violations.push({ path, line, rule, detail });
    const lineOf = lineIndex(text);
    const masked = maskSource(text);

    if (/^index\.tsx?$/.test(basename(path))) {
      report(1, "no-index", "files are named for what they do; import the module itself");
    }
    for (const { specifier, line } of findImports(masked, lineOf)) {
      imports++;
      for (const [rule, detail] of importViolations(path, specifier)) report(line, rule, detail);
    }
    if (isNeutral(path)) {
      for (const m of masked.code.matchAll(RUNTIME_GLOBAL)) {
        report(lineOf(m.index), "runtime-neutral", `uses the ${m[1] ?? m[3]} global; inject it`);
      }
      // Directives live in comments, so they are read from the unmasked text.
      for (const m of text.matchAll(RUNTIME_TYPES)) {
        report(lineOf(m.index), "runtime-neutral", `references ${m[1]} types`);
      }
    }
    if (!(ENV_READERS.includes(path) || path.startsWith("scripts/") || isTestFile(path))) {
      for (const m of masked.code.matchAll(ENV_READ)) {
        const what = `${m[1] ?? "import.meta"}.env`;
        report(lineOf(m.index), "env-access", `reads ${what}; config is read once at the entry`);
      }
    }
  }
  return { violations, imports };
}

/** Lists the repository's .ts/.tsx files (repo-relative POSIX paths), skipping IGNORED_DIRS. */
export async function listSourceFiles(root: string, dir = ""): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(join(root, dir), { withFileTypes: true })) {
    const path = dir ? `${dir}/${entry.name}` : entry.name;
    // Skipped while walking, not filtered after: node_modules alone holds tens of thousands.
    if (entry.isDirectory() && !IGNORED_DIRS.includes(path) && entry.name !== "node_modules") {
      files.push(...await listSourceFiles(root, path));
    } else if (entry.isFile() && /\.tsx?$/.test(entry.name)) {
      files.push(path);
    }
  }
  return files.sort();
}

if (import.meta.main) {
  const root = resolve(import.meta.dir, "..");
  const paths = await listSourceFiles(root);
  const files = await Promise.all(
    paths.map(async (path) => ({ path, text: await readFile(join(root, path), "utf8") })),
  );
  const { violations, imports } = findViolations(files);
  for (const v of violations) console.error(`${v.path}:${v.line}: ${v.rule} — ${v.detail}`);
  if (violations.length > 0) {
    console.error(`check-boundaries: ${violations.length} violation(s) in ${files.length} files`);
    process.exit(1);
  }
  console.log(`check-boundaries: OK (${files.length} files, ${imports} imports checked)`);
}
