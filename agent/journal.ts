// The command journal: the agent's durable memory of which command ids it accepted and how they
// ended. Every entry is fsync'd before the caller goes on, so an id acknowledged to the API is on
// disk, and an id on disk is never run again, across crashes and restarts.
import { type FileHandle, open, readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { CommandOutcome } from "./protocol/commands.ts";
import { writeFileAtomic } from "./atomic-write.ts";

const id = z.string().min(1).max(64);

/** One line of the journal. */
export const JournalEntry = z.discriminatedUnion("type", [
  z.object({ type: z.literal("accepted"), id, at: z.iso.datetime(), expiresAt: z.iso.datetime() })
    .strict(),
  z.object({
    type: z.literal("finished"),
    id,
    at: z.iso.datetime(),
    outcome: CommandOutcome,
    result: z.record(z.string(), z.unknown()).nullable(),
    error: z.string().nullable(),
  }).strict(),
]);
export type JournalEntry = z.infer<typeof JournalEntry>;
type FinishedEntry = Extract<JournalEntry, { type: "finished" }>;

/** What the journal knows about one command id. */
export interface JournalRecord {
  id: string;
  acceptedAt: string;
  expiresAt: string;
  finished: FinishedEntry | null;
}

/** How a command ended, as journaled. */
export type Finish = Omit<FinishedEntry, "type" | "id">;

/** The open journal of one agent directory. */
export interface Journal {
  /** The record for `id`, if it was ever accepted. */
  lookup(id: string): JournalRecord | undefined;
  /** Journals `id` as accepted; resolves once the line is on disk. */
  accept(id: string, at: Date, expiresAt: string): Promise<void>;
  /** Journals how `id` ended; resolves once the line is on disk. */
  finish(id: string, finish: Finish): Promise<void>;
  close(): Promise<void>;
}

/** Finished commands are forgotten this long after they expired: the API cannot resend them. */
export const JOURNAL_RETENTION_MS = 24 * 60 * 60_000;

/** Path of the journal inside the agent directory. */
export function journalPath(dir: string): string {
  return join(dir, "journal.jsonl");
}

/**
 * Reads every entry. A torn last line (a crash mid-append, never fsync'd, so never acknowledged)
 * is ignored; a damaged line before it is corruption and throws.
 */
export async function readJournalEntries(
  path: string,
): Promise<{ entries: JournalEntry[]; torn: boolean }> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { entries: [], torn: false };
    throw err;
  }
  const lines = text.split("\n");
  const last = lines.pop() ?? "";
  const entries: JournalEntry[] = [];
  lines.forEach((line, index) => {
    const entry = parseLine(line);
    if (!entry) throw new Error(`command journal ${path} is corrupt at line ${index + 1}`);
    entries.push(entry);
  });
  // Text after the last newline is a line whose append never completed.
  return { entries, torn: last !== "" };
}

/** Opens (creating if needed) the journal in `dir`, compacting it first. */
export async function openJournal(dir: string, now: Date = new Date()): Promise<Journal> {
  const path = journalPath(dir);
  const { entries, torn } = await readJournalEntries(path);
  const records = new Map<string, JournalRecord>();
  for (const entry of entries) apply(records, entry);

  const cutoff = now.getTime() - JOURNAL_RETENTION_MS;
  const stale = [...records.values()].filter((r) =>
    r.finished !== null && Date.parse(r.expiresAt) < cutoff
  );
  for (const record of stale) records.delete(record.id);
  if (torn || stale.length > 0) {
    await writeFileAtomic(path, [...records.values()].map(toLines).join(""), 0o600);
  }

  const file = await open(path, "a", 0o600);
  await file.chmod(0o600);
  let tail: Promise<void> = Promise.resolve();
  // Appends are chained so concurrent commands never interleave bytes within a line.
  const append = (entry: JournalEntry): Promise<void> => {
    const write = tail.then(async () => {
      await file.write(`${JSON.stringify(entry)}\n`);
      await file.sync();
      apply(records, entry);
    });
    tail = write.catch(() => {});
    return write;
  };
  return {
    lookup: (commandId) => records.get(commandId),
    accept: (commandId, at, expiresAt) =>
      append({ type: "accepted", id: commandId, at: at.toISOString(), expiresAt }),
    finish: (commandId, finish) => append({ type: "finished", id: commandId, ...finish }),
    async close() {
      await tail;
      await closeQuietly(file);
    },
  };
}

function parseLine(line: string): JournalEntry | null {
  try {
    const parsed = JournalEntry.safeParse(JSON.parse(line));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

function apply(records: Map<string, JournalRecord>, entry: JournalEntry): void {
  if (entry.type === "accepted") {
    if (!records.has(entry.id)) {
      records.set(entry.id, {
        id: entry.id,
        acceptedAt: entry.at,
        expiresAt: entry.expiresAt,
        finished: null,
      });
    }
    return;
  }
  const record = records.get(entry.id);
  if (record && !record.finished) record.finished = entry;
}

function toLines(record: JournalRecord): string {
  const accepted: JournalEntry = {
    type: "accepted",
    id: record.id,
    at: record.acceptedAt,
    expiresAt: record.expiresAt,
  };
  const lines = [JSON.stringify(accepted)];
  if (record.finished) lines.push(JSON.stringify(record.finished));
  return lines.map((line) => `${line}\n`).join("");
}

async function closeQuietly(file: FileHandle): Promise<void> {
  await file.close().catch(() => {});
}
