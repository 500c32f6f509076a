import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { recordAuditNow } from "../api/services/audit.ts";
import { openDatabase } from "../db/client.ts";

let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "caddis-verify-"));
  const database = await openDatabase({ dataDir: join(dataDir, "pglite") });
  await database.migrate();
  for (let i = 0; i < 3; i++) {
    await recordAuditNow(database.db, { actor: { kind: "system" } }, {
      action: "hosts.create",
      outcome: "success",
    });
  }
  await database.close();
});
afterAll(() => rm(dataDir, { recursive: true, force: true }));

function runCli() {
  const proc = Bun.spawnSync([process.execPath, "scripts/verify-audit.ts"], {
    env: { PATH: process.env.PATH, CADDIS_DATA_DIR: dataDir },
  });
  return { code: proc.exitCode, out: proc.stdout.toString() + proc.stderr.toString() };
}

test(
  "verify-audit CLI reports an intact chain with exit 0, then a tampered row with exit 1",
  async () => {
    const intact = runCli();
    expect(intact.out).toContain("intact: 3 rows");
    expect(intact.code).toBe(0);

    const pglite = new PGlite(join(dataDir, "pglite"));
    await pglite.exec(`alter table audit_log disable trigger user;
    update audit_log set action = 'hosts.delete' where seq = 2;`);
    await pglite.close();

    const broken = runCli();
    expect(broken.out).toContain("BROKEN at seq 2");
    expect(broken.code).toBe(1);
  },
  60_000,
);
