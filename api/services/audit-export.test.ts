import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { memberAccess, superuserAccess } from "../../scripts/testing/auth.ts";
import { type AuditContext, recordAudit, recordAuditNow } from "./audit.ts";
import { csvField, exportAudit } from "./audit-export.ts";
import { AuditFilterInput, AuditQueryInput, searchAudit } from "./audit-search.ts";

let t: TestApp;
const root = superuserAccess();
const exporter: AuditContext = { actor: { kind: "user", id: "usr_root" }, requestId: "req_1" };
const EVIL = '=HYPERLINK("http://evil")';
// Seeded in one transaction; 5,000 rows take a few seconds on PGlite, which is affordable.
const BULK = 5000;

beforeAll(async () => {
  t = await createTestApp();
  const db = t.deps.database.db;
  await recordAuditNow(db, { actor: { kind: "anonymous" }, userAgent: EVIL, ip: "203.0.113.9" }, {
    action: "test.evil",
    resourceId: "-2+3",
    outcome: "failure",
    details: { note: `a, "quoted"\nmulti-line ${EVIL}` },
  });
  await recordAuditNow(db, { actor: { kind: "system" } }, {
    action: "test.plain",
    outcome: "success",
  });
  await db.transaction(async (tx) => {
    for (let i = 0; i < BULK; i++) {
      await recordAudit(tx, { actor: { kind: "system" } }, {
        action: "bulk.write",
        outcome: "success",
        details: { i },
      });
    }
  });
}, 120_000);
afterAll(() => t.close());

/** Reads a stream to the end, keeping the chunks apart. */
async function drain(
  stream: ReadableStream<Uint8Array>,
): Promise<{ chunks: number; text: string }> {
  const decoder = new TextDecoder();
  let chunks = 0;
  let text = "";
  const reader = stream.getReader();
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    chunks++;
    text += decoder.decode(read.value, { stream: true });
  }
  return { chunks, text: text + decoder.decode() };
}

/** A strict RFC 4180 reader (CRLF records, `""` inside quotes), independent of the writer. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted && ch === '"' && text[i + 1] === '"') {
      field += '"';
      i++;
    } else if (quoted && ch === '"') {
      quoted = false;
    } else if (quoted) {
      field += ch;
    } else if (ch === '"' && field === "") {
      quoted = true;
    } else if (ch === ",") {
      record.push(field);
      field = "";
    } else if (ch === "\r" && text[i + 1] === "\n") {
      record.push(field);
      records.push(record);
      record = [];
      field = "";
      i++;
    } else if (ch === '"' || ch === "\r" || ch === "\n") {
      throw new Error(`unquoted ${JSON.stringify(ch)} at offset ${i}`);
    } else {
      field += ch;
    }
  }
  if (quoted || field !== "" || record.length > 0) throw new Error("CSV does not end with CRLF");
  return records;
}

const filters = (f: Record<string, unknown>) => AuditFilterInput.parse(f);

describe("exportAudit as CSV", () => {
  test("quotes and neutralises hostile cells so they parse back as text", async () => {
    const stream = await exportAudit(t.deps, exporter, root, filters({ action: "test.*" }), "csv");
    const [header, evil, plain, ...rest] = parseCsv((await drain(stream)).text);
    expect(rest).toEqual([]);
    expect(header?.[0]).toBe("seq");
    const cell = (row: string[] | undefined, name: string) => row?.[header?.indexOf(name) ?? -1];
    expect(cell(evil, "user_agent")).toBe(`'${EVIL}`);
    expect(cell(evil, "resource_id")).toBe("'-2+3");
    expect(cell(evil, "ip")).toBe("203.0.113.9");
    expect(JSON.parse(cell(evil, "details") ?? "")).toEqual({
      note: `a, "quoted"\nmulti-line ${EVIL}`,
    });
    expect(cell(plain, "action")).toBe("test.plain");
    expect(cell(plain, "actor_id")).toBe("");
  });

  test("escapes fields exactly as RFC 4180 says", () => {
    expect(csvField('say "hi", ok')).toBe('"say ""hi"", ok"');
    expect(csvField("line\nbreak")).toBe('"line\nbreak"');
    expect(csvField("@SUM(A1)")).toBe("'@SUM(A1)");
    expect(csvField("\tcmd")).toBe("'\tcmd");
    expect(csvField('=1,"x"')).toBe(`"'=1,""x"""`);
    expect(csvField(null)).toBe("");
    expect(csvField(42)).toBe("42");
  });
});

describe("exportAudit as JSON", () => {
  test("is one valid JSON array holding the same rows as search, oldest first", async () => {
    const searched = await searchAudit(t.deps, root, AuditQueryInput.parse({ action: "test.*" }));
    const stream = await exportAudit(t.deps, exporter, root, filters({ action: "test.*" }), "json");
    const exported = JSON.parse((await drain(stream)).text) as unknown[];
    expect(exported).toEqual([...searched.entries].reverse());
  });

  test("is valid JSON when nothing matches", async () => {
    const stream = await exportAudit(t.deps, exporter, root, filters({ action: "none.*" }), "json");
    expect(JSON.parse((await drain(stream)).text)).toEqual([]);
  });
});

describe("exportAudit of a large log", () => {
  test("streams thousands of rows in several batches, in seq order", async () => {
    const stream = await exportAudit(t.deps, exporter, root, filters({ action: "bulk.*" }), "csv");
    const { chunks, text } = await drain(stream);
    const rows = parseCsv(text).slice(1);
    expect(rows.length).toBe(BULK);
    expect(chunks).toBeGreaterThan(BULK / 1000);
    const seqs = rows.map((r) => Number(r[0]));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  }, 60_000);

  test("records the export, with its filters and format, before streaming", async () => {
    await exportAudit(t.deps, exporter, root, filters({ outcome: "denied" }), "json");
    const { entries } = await searchAudit(
      t.deps,
      root,
      AuditQueryInput.parse({ action: "audit.export", limit: 1 }),
    );
    expect(entries[0]).toMatchObject({
      actorId: "usr_root",
      requestId: "req_1",
      details: { format: "json", filters: { outcome: "denied" } },
    });
  });

  test("refuses a caller without audit.export, and records nothing", async () => {
    const before = await searchAudit(t.deps, root, AuditQueryInput.parse({ limit: 1 }));
    const member = memberAccess(["audit.read"]);
    const err = await exportAudit(t.deps, exporter, member, filters({}), "csv").catch((e) => e);
    expect((err as { code?: string }).code).toBe("forbidden");
    const after = await searchAudit(t.deps, root, AuditQueryInput.parse({ limit: 1 }));
    expect(after.entries[0]?.seq).toBe(before.entries[0]?.seq);
  });
});
