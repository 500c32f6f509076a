import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { openDatabase } from "../db/client.ts";
import { createTestApp, type TestApp } from "./testing/app.ts";
import { bearer, postJson, TEST_PASSWORD } from "./testing/auth.ts";
import { openServerTestDatabase, TEST_DATABASE_URL, type TestDatabase } from "./testing/db.ts";

const ROOT = join(import.meta.dir, "..");
const NEW_PASSWORD = "quiet-harbour-lantern-58";

// The CLI works on a temporary data dir (PGlite) or a fresh server database, whichever the suite
// runs on; with PGlite the app opens the directory only after the CLI has exited and released it.
let dataDir: string;
let server: TestDatabase | undefined;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "caddis-users-cli-"));
  if (TEST_DATABASE_URL) server = await openServerTestDatabase(TEST_DATABASE_URL);
});
afterAll(async () => {
  await server?.close();
  await rm(dataDir, { recursive: true, force: true });
});

async function runCli(args: string[], stdin: string | null, env: Record<string, string> = {}) {
  const proc = Bun.spawn([process.execPath, "scripts/users.ts", ...args], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      ...(server ? { DATABASE_URL: server.url ?? "" } : { CADDIS_DATA_DIR: dataDir }),
      ...env,
    },
    stdin: stdin === null ? "ignore" : new TextEncoder().encode(stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, out: stdout + stderr };
}

async function openDataDir(): Promise<TestDatabase> {
  const pglite = new PGlite(join(dataDir, "pglite"));
  const database = await openDatabase({ pglite });
  return {
    ...database,
    rawSql: async (query) => (await pglite.query<Record<string, unknown>>(query)).rows,
  };
}

/** Runs `fn` against an app on the CLI's database, then releases the database again. */
async function withApp<T>(fn: (t: TestApp) => Promise<T>): Promise<T> {
  const database = server ?? (await openDataDir());
  const t = await createTestApp({ database });
  try {
    return await fn(t);
  } finally {
    await t.close();
    if (!server) await database.close();
  }
}

const login = (t: TestApp, email: string, password: string) =>
  postJson(t, "/api/v1/auth/login", { email, password });

describe("scripts/users.ts", () => {
  test(
    "create-superuser reads the password from stdin; the new superuser can sign in",
    async () => {
      const run = await runCli(
        ["create-superuser", "--email", "Ops@Example.com"],
        `${TEST_PASSWORD}\n`,
      );
      expect(run.out).toContain("Created superuser ops@example.com");
      expect(run.out).toContain('new tenant "Default"');
      expect(run.code).toBe(0);

      await withApp(async (t) => {
        const res = await login(t, "ops@example.com", TEST_PASSWORD);
        expect(res.status).toBe(200);
        const { accessToken } = await res.json() as { accessToken: string };
        const me = await t.app.request("/api/v1/auth/me", { headers: bearer(accessToken) });
        expect(await me.json()).toMatchObject({ email: "ops@example.com", isSuperuser: true });
        const member = await t.database.rawSql(
          `select t.name from memberships m join tenants t on t.id = m.tenant_id
         join users u on u.id = m.user_id where u.email = 'ops@example.com'`,
        );
        expect(member).toEqual([{ name: "Default" }]);
        const audit = await t.database.rawSql(
          `select action, actor_kind, details from audit_log
         where action in ('users.create', 'cli.create_superuser') order by seq`,
        );
        expect(audit).toHaveLength(2);
        for (const row of audit) expect(row.actor_kind).toBe("system");
        expect(audit[1]?.details).toMatchObject({ via: "cli", email: "ops@example.com" });
      });
    },
    60_000,
  );

  test("refuses a common password with exit 1 and says why", async () => {
    const run = await runCli(["create-superuser", "--email", "weak@example.com"], "password1234\n");
    expect(run.code).toBe(1);
    expect(run.out).toContain("refused: password: is one of the most common passwords");
  }, 30_000);

  test("refuses a password given as an argument, without echoing it", async () => {
    for (
      const args of [
        ["create-superuser", "--email", "argv@example.com", "--password", TEST_PASSWORD],
        ["create-superuser", "--email", "argv@example.com", `--password=${TEST_PASSWORD}`],
        ["reset-password", "--email", "ops@example.com", TEST_PASSWORD],
      ]
    ) {
      const run = await runCli(args, `${TEST_PASSWORD}\n`);
      expect(run.code).toBe(2);
      expect(run.out).toContain("Usage:");
      expect(run.out).not.toContain(TEST_PASSWORD);
    }
    const nothing = await runCli(["create-superuser", "--email", "argv@example.com"], null);
    expect(nothing.code).toBe(2);
    expect(nothing.out).toContain("No password given");
  }, 30_000);

  test("takes CADDIS_NEW_PASSWORD for automation and refuses a taken email", async () => {
    const env = { CADDIS_NEW_PASSWORD: NEW_PASSWORD };
    const made = await runCli(["create-superuser", "--email", "bot@example.com"], null, env);
    expect(made.out).toContain('existing tenant "Default"');
    expect(made.code).toBe(0);
    const again = await runCli(["create-superuser", "--email", "BOT@example.com"], null, env);
    expect(again.code).toBe(1);
    expect(again.out).toContain("already exists");
  }, 60_000);

  test("reset-password sets the new password and signs out every session", async () => {
    const refreshToken = await withApp(async (t) => {
      const res = await login(t, "ops@example.com", TEST_PASSWORD);
      return (await res.json() as { refreshToken: string }).refreshToken;
    });
    const run = await runCli(["reset-password", "--email", "ops@example.com"], `${NEW_PASSWORD}\n`);
    expect(run.out).toContain("Password of ops@example.com reset");
    expect(run.code).toBe(0);
    const unknown = await runCli(
      ["reset-password", "--email", "nobody@example.com"],
      `${NEW_PASSWORD}\n`,
    );
    expect(unknown.code).toBe(1);
    expect(unknown.out).toContain("No account with the email nobody@example.com");

    await withApp(async (t) => {
      expect((await login(t, "ops@example.com", TEST_PASSWORD)).status).toBe(401);
      expect((await login(t, "ops@example.com", NEW_PASSWORD)).status).toBe(200);
      const refresh = await postJson(t, "/api/v1/auth/refresh", { refreshToken });
      expect(refresh.status).toBe(401);
      const audit = await t.database.rawSql(
        `select action, actor_kind, details from audit_log
         where action in ('auth.password_reset', 'cli.reset_password') order by seq`,
      );
      expect(audit.map((row) => [row.action, row.actor_kind])).toEqual([
        ["auth.password_reset", "system"],
        ["cli.reset_password", "system"],
      ]);
      expect(audit[1]?.details).toEqual({ via: "cli", email: "ops@example.com" });
    });
  }, 60_000);
});
