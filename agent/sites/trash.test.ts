import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { silentLog } from "../log.ts";
import { tempDir } from "../test-fixtures.ts";
import { waitFor } from "../../scripts/testing/wait.ts";
import { HOSTILE_STRINGS } from "../../scripts/testing/hostile-strings.ts";
import {
  discardSiteFiles,
  startTrashSweeper,
  sweepTrash,
  TRASH_KEEP_MS,
  trashedAt,
  trashEntryName,
} from "./trash.ts";

let dir: string;
let remove: () => Promise<void>;
let places: { sitesDir: string; trashDir: string };
beforeEach(async () => {
  ({ dir, remove } = await tempDir("trash"));
  places = { sitesDir: join(dir, "sites"), trashDir: join(dir, "trash") };
  await mkdir(places.sitesDir);
  await mkdir(places.trashDir);
});
afterEach(() => remove());

const at = new Date("2030-03-04T05:06:07.089Z");
const DAY = 24 * 3_600_000;

describe("trash entry names", () => {
  test("carry the site id and the UTC removal time, and read back exactly", () => {
    expect(trashEntryName("site_a1", at)).toBe("site_a1-20300304T050607.089Z");
    expect(trashedAt("site_a1-20300304T050607.089Z")).toEqual(at);
  });

  test("anything the agent did not name reads as no time at all", () => {
    for (
      const name of [
        "site_a1",
        "site_a1-20300304T050607Z",
        "site_a1-20301304T050607.089Z", // month 13
        "site_a1-20300230T050607.089Z", // 30 February
        "other-20300304T050607.089Z",
        ".site_a1-20300304T050607.089Z",
        ...HOSTILE_STRINGS,
      ]
    ) expect(trashedAt(name)).toBeNull();
  });
});

describe("sweepTrash", () => {
  test("deletes what is a week old or older, on the injected clock, and nothing else", async () => {
    const now = new Date("2030-03-20T00:00:00.000Z");
    const old = trashEntryName("site_old", new Date(now.getTime() - TRASH_KEEP_MS));
    const older = trashEntryName("site_older", new Date(now.getTime() - 30 * DAY));
    const fresh = trashEntryName("site_fresh", new Date(now.getTime() - TRASH_KEEP_MS + 1));
    for (const name of [old, older, fresh, "notes-by-an-admin"]) {
      await mkdir(join(places.trashDir, name, "current"), { recursive: true });
      await writeFile(join(places.trashDir, name, "current", "index.php"), "<?php");
    }
    expect((await sweepTrash(places.trashDir, now)).sort()).toEqual([old, older].sort());
    expect((await readdir(places.trashDir)).sort()).toEqual([fresh, "notes-by-an-admin"].sort());
    expect(await sweepTrash(places.trashDir, now)).toEqual([]);
  });

  test("the sweeper sweeps as soon as it starts, by the clock it is given", async () => {
    const name = trashEntryName("site_gone", at);
    await mkdir(join(places.trashDir, name));
    const sweeper = startTrashSweeper({
      trashDir: places.trashDir,
      now: () => new Date(at.getTime() + TRASH_KEEP_MS),
      log: silentLog,
    });
    try {
      await waitFor("the first sweep", async () => (await readdir(places.trashDir)).length === 0);
    } finally {
      sweeper.stop();
    }
  });

  test("a missing trash directory holds nothing to sweep", async () => {
    expect(await sweepTrash(join(dir, "missing"), at)).toEqual([]);
  });
});

describe("discardSiteFiles", () => {
  test("moves the site into the trash, or deletes it with purge; a second run finds nothing", async () => {
    await mkdir(join(places.sitesDir, "site_a", "current"), { recursive: true });
    await mkdir(join(places.sitesDir, "site_b", "current"), { recursive: true });
    const trashedTo = join(places.trashDir, trashEntryName("site_a", at));
    expect(await discardSiteFiles(places, "site_a", false, at)).toEqual({ trashedTo });
    expect(await readdir(trashedTo)).toEqual(["current"]);
    expect(await discardSiteFiles(places, "site_a", false, at)).toEqual({ absent: true });
    expect(await discardSiteFiles(places, "site_b", true, at)).toEqual({ purged: true });
    expect(await readdir(places.sitesDir)).toEqual([]);
    expect(await discardSiteFiles(places, "site_b", true, at)).toEqual({ absent: true });
  });

  test("refuses an id that could name anything but one site's directory", async () => {
    await mkdir(join(dir, "precious"));
    for (const id of ["..", "../precious", "site_a/..", "", "site_", ...HOSTILE_STRINGS]) {
      await expect(discardSiteFiles(places, id, true, at)).rejects.toThrow("Invalid site id");
    }
    expect(await readdir(dir)).toContain("precious");
  });
});
