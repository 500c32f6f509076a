// Loaded by `bun test` before any test file (bunfig.toml).
import { prepareTestDatabases } from "./db.ts";

await prepareTestDatabases();
