// `bun scripts/users.ts <command>`: account recovery from the server's shell. Opens the database
// like verify-audit (DATABASE_URL, else the embedded one under CADDIS_DATA_DIR; stop the panel
// first when embedded: PGlite has one owner at a time) and migrates it before anything else.
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { passwordProblem } from "../api/auth/passwords.ts";
import { AppError } from "../api/errors.ts";
import { scrubSecrets } from "../api/log.ts";
import { syncRbacCatalogue } from "../api/services/rbac-catalogue.ts";
import { createSuperuserFromCli, resetPasswordFromCli } from "../api/services/user-cli.ts";
import { checkNewCredentials } from "../api/services/users.ts";
import { type Database, displayUrl, openDatabase } from "../db/client.ts";

const USAGE = `Usage:
  bun scripts/users.ts create-superuser --email <email> [--tenant <name>]
  bun scripts/users.ts reset-password --email <email>

The new password is never an argument (ps and shell history would show it). It comes from the
CADDIS_NEW_PASSWORD environment variable when set, else from the first line of standard input;
on a terminal you are asked twice, without echo.
create-superuser joins the tenant named by --tenant (created if missing), else the oldest tenant,
else a new tenant "Default". reset-password signs the user out everywhere.
Exit codes: 0 done, 1 refused (password policy, existing account, unknown email), 2 usage or
database error.`;

/** A failure with the exit code it maps to: 1 refused, 2 usage or database. */
class CliError extends Error {
  constructor(readonly exitCode: 1 | 2, message: string, readonly showUsage = false) {
    super(message);
  }
}

const usageError = (message: string) => new CliError(2, message, true);

type Command =
  | { name: "create-superuser"; email: string; tenant?: string }
  | { name: "reset-password"; email: string };

function parseCommand(argv: string[]): Command {
  if (argv.some((arg) => /^--?(new-?)?pass(word)?\b/i.test(arg))) {
    throw usageError(
      "Passwords are never taken as arguments; pipe it on stdin or set CADDIS_NEW_PASSWORD",
    );
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: { email: { type: "string" }, tenant: { type: "string" } },
    });
  } catch (err) {
    throw usageError((err as Error).message);
  }
  const { positionals, values } = parsed;
  const name = positionals[0];
  if (positionals.length !== 1 || (name !== "create-superuser" && name !== "reset-password")) {
    // Stray arguments are not echoed: one of them could be a password typed in the wrong place.
    throw usageError("Give exactly one command: create-superuser or reset-password");
  }
  if (!values.email) throw usageError(`${name} needs --email <email>`);
  if (name === "reset-password") {
    if (values.tenant !== undefined) throw usageError("reset-password takes no --tenant");
    return { name, email: values.email };
  }
  return { name, email: values.email, tenant: values.tenant };
}

/** Reads the first line of a non-terminal stdin, without waiting for the writer to close it. */
async function readFirstLine(stream: AsyncIterable<Uint8Array | string>): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of stream) {
    text += typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
    if (text.includes("\n")) break;
  }
  return text.split("\n")[0]!.replace(/\r$/, "");
}

/**
 * Prompts on stderr and reads a line from the terminal in raw mode, so the typed characters are
 * never echoed. Raw mode is a Node API Bun implements; no `stty` child process is needed.
 */
function promptHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  // Raw before the prompt shows: keys typed the instant it appears must not be echoed either.
  stdin.setRawMode(true);
  stdin.resume();
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    const decoder = new TextDecoder();
    let value = "";
    const finish = (err?: CliError) => {
      stdin.off("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write("\n");
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: Uint8Array) => {
      for (const ch of decoder.decode(chunk, { stream: true })) {
        if (ch === "\r" || ch === "\n") return finish();
        // Raw mode turns Ctrl-C and Ctrl-D into plain bytes; they must still cancel.
        if (ch === "\u0003" || ch === "\u0004") return finish(new CliError(2, "Cancelled"));
        if (ch === "\u007f" || ch === "\b") value = [...value].slice(0, -1).join("");
        else if (ch >= " ") value += ch;
      }
    };
    stdin.on("data", onData);
  });
}

/** The new password: CADDIS_NEW_PASSWORD, else a hidden prompt on a terminal, else stdin's line. */
async function readNewPassword(): Promise<string> {
  const fromEnv = process.env.CADDIS_NEW_PASSWORD;
  if (fromEnv) return fromEnv;
  if (process.stdin.isTTY) {
    const first = await promptHidden("New password: ");
    if (first && (await promptHidden("Repeat it: ")) !== first) {
      throw new CliError(1, "The two entries differ; nothing was changed");
    }
    return first;
  }
  return await readFirstLine(process.stdin);
}

async function openConfiguredDatabase(): Promise<Database> {
  const url = process.env.DATABASE_URL;
  const dataDir = resolve(join(process.env.CADDIS_DATA_DIR || "./data", "pglite"));
  const where = url ? displayUrl(url) : dataDir;
  let database: Database | undefined;
  try {
    database = url ? await openDatabase({ url }) : await openDatabase({ dataDir });
    await database.migrate();
    await syncRbacCatalogue(database.db);
    return database;
  } catch (err) {
    await database?.close().catch(() => {});
    throw new CliError(2, `Cannot open the database at ${where}: ${messageOf(err)}`);
  }
}

// Driver errors can carry bound parameters (hashes); scrubSecrets drops them.
function messageOf(err: unknown): string {
  const scrubbed = scrubSecrets(err) as { message?: string } | string;
  return typeof scrubbed === "string" ? scrubbed : scrubbed.message ?? String(err);
}

async function run(command: Command, password: string): Promise<string> {
  // The policy is checked before the database is opened, so a refused password costs nothing.
  if (command.name === "create-superuser") checkNewCredentials(command.email, password);
  else {
    const problem = passwordProblem(password, command.email);
    if (problem) throw new AppError("invalid_input", `password: ${problem}`);
  }
  const database = await openConfiguredDatabase();
  try {
    if (command.name === "create-superuser") {
      const made = await createSuperuserFromCli(database.db, {
        email: command.email,
        password,
        tenantName: command.tenant,
      });
      const tenant = `${made.tenantCreated ? "new" : "existing"} tenant "${made.tenantName}"`;
      return `Created superuser ${made.email} (${made.userId}), member of the ${tenant}`;
    }
    const reset = await resetPasswordFromCli(
      database.db,
      { email: command.email, password },
      new Date(),
    );
    const note = reset.disabled ? "; the account is still disabled, enable it to let them in" : "";
    return `Password of ${reset.email} reset; all their sessions were signed out${note}`;
  } finally {
    await database.close();
  }
}

async function main(argv: string[]): Promise<number> {
  try {
    if (argv.includes("--help") || argv.includes("-h")) {
      console.log(USAGE);
      return 0;
    }
    const command = parseCommand(argv);
    const password = await readNewPassword();
    if (!password) throw usageError("No password given on stdin or in CADDIS_NEW_PASSWORD");
    console.log(await run(command, password));
    return 0;
  } catch (err) {
    if (err instanceof CliError) {
      console.error(`error: ${err.message}`);
      if (err.showUsage) console.error(`\n${USAGE}`);
      return err.exitCode;
    }
    if (err instanceof AppError && err.code !== "internal" && err.code !== "unavailable") {
      console.error(`refused: ${err.message}`);
      return 1;
    }
    console.error(`error: ${messageOf(err)}`);
    return 2;
  }
}

process.exit(await main(process.argv.slice(2)));
