import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { appendFile, readFile, stat, writeFile } from "node:fs/promises";
import { journalPath, openJournal, readJournalEntries } from "./journal.ts";
import { tempDir } from "./test-fixtures.ts";

let dir: string;
let remove: () => Promise<void>;
beforeEach(async () => ({ dir, remove } = await tempDir("journal")));
afterEach(() => remove());

const HOUR = 60 * 60_000;
const at = (ms: number) => new Date(ms).toISOString();

describe("command journal", () => {
  test("an entry is in the file as soon as accept resolves, and survives a reload", async () => {
    const journal = await openJournal(dir);
    await journal.accept("cmd_1", new Date(), at(Date.now() + HOUR));
    // Read without closing: what was acknowledged must already be written.
    expect(await readFile(journalPath(dir), "utf8")).toContain('"id":"cmd_1"');
    await journal.finish("cmd_1", {
      outcome: "succeeded",
      result: { n: 1 },
      error: null,
      at: at(Date.now()),
    });
    await journal.close();

    const reopened = await openJournal(dir);
    const record = reopened.lookup("cmd_1");
    expect(record?.finished?.outcome).toBe("succeeded");
    expect(record?.finished?.result).toEqual({ n: 1 });
    expect(reopened.lookup("cmd_2")).toBeUndefined();
    await reopened.close();
  });

  test("the journal file is private (0600)", async () => {
    const journal = await openJournal(dir);
    await journal.accept("cmd_1", new Date(), at(Date.now() + HOUR));
    await journal.close();
    expect((await stat(journalPath(dir))).mode & 0o777).toBe(0o600);
  });

  test("a torn last line is ignored, and entries appended after it stay readable", async () => {
    const journal = await openJournal(dir);
    await journal.accept("cmd_1", new Date(), at(Date.now() + HOUR));
    await journal.close();
    await appendFile(journalPath(dir), '{"type":"accepted","id":"cmd_torn","at":"20');

    const reopened = await openJournal(dir);
    expect(reopened.lookup("cmd_1")).toBeDefined();
    expect(reopened.lookup("cmd_torn")).toBeUndefined();
    await reopened.accept("cmd_2", new Date(), at(Date.now() + HOUR));
    await reopened.close();

    const { entries, torn } = await readJournalEntries(journalPath(dir));
    expect(torn).toBe(false);
    expect(entries.map((e) => e.id)).toEqual(["cmd_1", "cmd_2"]);
  });

  test("a damaged line before the last one is reported, not skipped", async () => {
    const good = JSON.stringify({ type: "accepted", id: "cmd_1", at: at(0), expiresAt: at(HOUR) });
    await writeFile(journalPath(dir), `garbage\n${good}\n`, { mode: 0o600 });
    await expect(openJournal(dir)).rejects.toThrow("corrupt at line 1");
  });

  test("compaction drops finished commands that expired over a day ago, and nothing else", async () => {
    const start = Date.parse("2030-01-01T00:00:00Z");
    const journal = await openJournal(dir, new Date(start));
    const finish = { outcome: "succeeded" as const, result: {}, error: null, at: at(start) };
    await journal.accept("old_finished", new Date(start), at(start + HOUR));
    await journal.finish("old_finished", finish);
    await journal.accept("old_unfinished", new Date(start), at(start + HOUR));
    await journal.accept("recent_finished", new Date(start), at(start + 20 * HOUR));
    await journal.finish("recent_finished", finish);
    await journal.close();

    // 26 h later: old_* expired 25 h ago, recent_finished only 6 h ago.
    const later = await openJournal(dir, new Date(start + 26 * HOUR));
    expect(later.lookup("old_finished")).toBeUndefined();
    expect(later.lookup("old_unfinished")?.finished).toBeNull();
    expect(later.lookup("recent_finished")?.finished?.outcome).toBe("succeeded");
    await later.close();
    const { entries } = await readJournalEntries(journalPath(dir));
    expect(entries.map((e) => `${e.type}:${e.id}`)).toEqual([
      "accepted:old_unfinished",
      "accepted:recent_finished",
      "finished:recent_finished",
    ]);
    expect((await stat(journalPath(dir))).mode & 0o777).toBe(0o600);
  });

  test("concurrent appends never interleave within a line", async () => {
    const journal = await openJournal(dir);
    const big = { blob: "x".repeat(64 * 1024) };
    await Promise.all(Array.from({ length: 40 }, async (_, i) => {
      await journal.accept(`cmd_${i}`, new Date(), at(Date.now() + HOUR));
      await journal.finish(`cmd_${i}`, {
        outcome: "succeeded",
        result: big,
        error: null,
        at: at(Date.now()),
      });
    }));
    await journal.close();
    const { entries, torn } = await readJournalEntries(journalPath(dir));
    expect(torn).toBe(false);
    expect(entries).toHaveLength(80);
  });
});
