// `npm run verify-audit`: checks the audit log's hash chain and reports the first broken row.
// Uses DATABASE_URL when set, else the embedded database under CADDIS_DATA_DIR (stop the panel
// first: an embedded database has one owner at a time).
import { join, resolve } from "node:path";
import { verifyAuditChain } from "../api/services/audit-verify.ts";
import { openDatabase } from "../db/client.ts";

const url = process.env.DATABASE_URL;
const dataDir = process.env.CADDIS_DATA_DIR || "./data";
const database = url
  ? await openDatabase({ url })
  : await openDatabase({ dataDir: resolve(join(dataDir, "pglite")) });

let exitCode = 0;
try {
  const result = await verifyAuditChain(database.db);
  if (result.ok) {
    const head = result.head ? `head seq ${result.head.seq} hash ${result.head.hash}` : "empty log";
    console.log(`audit chain intact: ${result.rowsChecked} rows checked; ${head}`);
    console.log(
      "Record the head elsewhere: a later run that shows an older head means rows were cut off.",
    );
  } else {
    const broken = result.firstBroken;
    console.error(`audit chain BROKEN at seq ${broken?.seq}: ${broken?.reason}`);
    console.error(`${result.rowsChecked} rows before it verified.`);
    exitCode = 1;
  }
} catch (err) {
  console.error(`Cannot verify the audit log at ${database.location}: ${(err as Error).message}`);
  exitCode = 2;
} finally {
  await database.close();
}
process.exit(exitCode);
