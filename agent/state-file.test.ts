import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmod, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { readStateFile, stateFileExists, stateFilePath, writeStateFile } from "./state-file.ts";
import { createTestSigner, tempDir, writeTestState } from "./test-fixtures.ts";

let root: string;
let remove: () => Promise<void>;
let dir: string;
beforeEach(async () => {
  ({ dir: root, remove } = await tempDir("state"));
  dir = join(root, "agent"); // not created yet: writing must create it
});
afterEach(() => remove());

const write = async () =>
  writeTestState(dir, {
    hostId: "host_1",
    apiUrl: "https://panel.example.com",
    apiPublicKey: (await createTestSigner()).publicKey,
  });

describe("state file", () => {
  test("is written 0600 in a 0700 directory and reads back the same", async () => {
    const state = await write();
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(stateFilePath(dir))).mode & 0o777).toBe(0o600);
    expect(await readStateFile(dir)).toEqual(state);
    expect(await stateFileExists(dir)).toBe(true);
  });

  test("rewriting replaces the file whole and leaves no temporary file behind", async () => {
    const first = await write();
    await writeStateFile(dir, { ...first, hostId: "host_2" });
    expect((await readStateFile(dir)).hostId).toBe("host_2");
    const { readdir } = await import("node:fs/promises");
    expect(await readdir(dir)).toEqual(["agent.json"]);
  });

  test("a missing file says the agent is not enrolled", async () => {
    expect(await stateFileExists(dir)).toBe(false);
    await expect(readStateFile(dir)).rejects.toThrow("the agent is not enrolled");
  });

  test("a file that is not JSON is reported corrupt", async () => {
    await write();
    await writeFile(stateFilePath(dir), '{"hostId": "host_1", ', { mode: 0o600 });
    await expect(readStateFile(dir)).rejects.toThrow(
      /state file .* is corrupt: it is not valid JSON/,
    );
  });

  test("a file with a bad field is reported corrupt, naming the field", async () => {
    await write();
    const state = JSON.parse(await readFile(stateFilePath(dir), "utf8"));
    await writeFile(stateFilePath(dir), JSON.stringify({ ...state, apiPublicKey: "short" }), {
      mode: 0o600,
    });
    await expect(readStateFile(dir)).rejects.toThrow(/is corrupt: apiPublicKey/);
  });

  test("a private key that does not match the public key is reported corrupt", async () => {
    await write();
    const state = JSON.parse(await readFile(stateFilePath(dir), "utf8"));
    const other = (await createTestSigner()).publicKey;
    await writeFile(stateFilePath(dir), JSON.stringify({ ...state, publicKey: other }), {
      mode: 0o600,
    });
    await expect(readStateFile(dir)).rejects.toThrow("privateKey does not match publicKey");
  });

  test("a file other users can read is refused", async () => {
    await write();
    await chmod(stateFilePath(dir), 0o644);
    await expect(readStateFile(dir)).rejects.toThrow(/accessible by other users \(mode 0644\)/);
  });
});
