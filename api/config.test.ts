import { describe, expect, test } from "bun:test";
import { generateKeyringEntry } from "./auth/secrets.ts";
import { ConfigError, EXAMPLE_SECRETS, readConfig } from "./config.ts";
import { randomAgentSigningKey } from "../scripts/testing/secrets.ts";

const goodSecret = "x7Qm2Lr9vT4bN8cK1pZ6sW3dF5gH0jY-AeRuIoPaSdFg";
const goodKeys = generateKeyringEntry(1);
const goodAgentKey = randomAgentSigningKey();

function problemsOf(env: Record<string, string | undefined>): string[] {
  try {
    readConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe("readConfig", () => {
  test("applies the documented defaults", () => {
    const config = readConfig({
      CADDIS_SECRET_KEY: goodSecret,
      CADDIS_ENCRYPTION_KEYS: goodKeys,
      CADDIS_AGENT_SIGNING_KEY: goodAgentKey,
    });
    expect(config).toMatchObject({
      host: "127.0.0.1",
      port: 8080,
      dataDir: "./data",
      env: "development",
      logLevel: "info",
      databaseUrl: undefined,
      publicUrl: "http://127.0.0.1:8080",
      bodyLimitBytes: 1024 * 1024,
      databasePoolSize: 4,
    });
    expect(config.keyring).toHaveLength(1);
  });

  test("takes a database pool size from 2 to 100 connections, and refuses anything else", () => {
    const secrets = {
      CADDIS_SECRET_KEY: goodSecret,
      CADDIS_ENCRYPTION_KEYS: goodKeys,
      CADDIS_AGENT_SIGNING_KEY: goodAgentKey,
    };
    expect(readConfig({ ...secrets, CADDIS_DB_POOL_SIZE: "12" }).databasePoolSize).toBe(12);
    for (const bad of ["1", "101", "4.5", "many"]) {
      const problems = problemsOf({ ...secrets, CADDIS_DB_POOL_SIZE: bad });
      expect(problems).toHaveLength(1);
      expect(problems[0]).toStartWith("CADDIS_DB_POOL_SIZE: ");
    }
  });

  test("takes a socket URL, and refuses one postgres-js would misread without echoing it", () => {
    const secrets = {
      CADDIS_SECRET_KEY: goodSecret,
      CADDIS_ENCRYPTION_KEYS: goodKeys,
      CADDIS_AGENT_SIGNING_KEY: goodAgentKey,
    };
    const socket = "postgres://caddis@localhost/caddis?host=/var/run/postgresql";
    expect(readConfig({ ...secrets, DATABASE_URL: socket }).databaseUrl).toBe(socket);
    const bad = [
      "postgres://caddis:s3cret-pw@localhost/caddis?host=var/run/postgresql",
      "postgres:///caddis?host=/var/run/postgresql",
    ];
    for (const url of bad) {
      const problems = problemsOf({ ...secrets, DATABASE_URL: url });
      expect(problems).toHaveLength(1);
      expect(problems[0]).toStartWith("DATABASE_URL: ");
      expect(problems[0]).not.toContain("s3cret-pw");
    }
  });

  test("reports every problem in one error", () => {
    const problems = problemsOf({
      CADDIS_PORT: "99999",
      CADDIS_ENV: "staging",
      CADDIS_LOG_LEVEL: "loud",
      DATABASE_URL: "mysql://x",
      CADDIS_PUBLIC_URL: "not a url",
      CADDIS_SECRET_KEY: goodSecret,
      CADDIS_ENCRYPTION_KEYS: goodKeys,
      CADDIS_AGENT_SIGNING_KEY: goodAgentKey,
    });
    const names = problems.map((p) => p.split(":")[0]);
    expect(names).toEqual(
      expect.arrayContaining([
        "CADDIS_PORT",
        "CADDIS_ENV",
        "CADDIS_LOG_LEVEL",
        "DATABASE_URL",
        "CADDIS_PUBLIC_URL",
      ]),
    );
  });

  test("production refuses to start without secrets", () => {
    const problems = problemsOf({ CADDIS_ENV: "production" });
    expect(problems.join("\n")).toContain("CADDIS_SECRET_KEY: required in production");
    expect(problems.join("\n")).toContain("CADDIS_ENCRYPTION_KEYS: required in production");
    expect(problems.join("\n")).toContain("CADDIS_AGENT_SIGNING_KEY: required in production");
  });

  test("the agent signing key must be a 32-byte seed, and its value is never echoed", () => {
    for (const bad of ["short-key", "x".repeat(43) + "!", randomAgentSigningKey() + "AAAA"]) {
      const problems = problemsOf({
        CADDIS_SECRET_KEY: goodSecret,
        CADDIS_ENCRYPTION_KEYS: goodKeys,
        CADDIS_AGENT_SIGNING_KEY: bad,
      });
      expect(problems).toEqual([
        "CADDIS_AGENT_SIGNING_KEY: must be 32 bytes encoded as base64url",
      ]);
      expect(problems.join("\n")).not.toContain(bad);
    }
  });

  test("the embedded agent is on in development and off in production unless set", () => {
    const secrets = {
      CADDIS_SECRET_KEY: goodSecret,
      CADDIS_ENCRYPTION_KEYS: goodKeys,
      CADDIS_AGENT_SIGNING_KEY: goodAgentKey,
    };
    expect(readConfig(secrets).embeddedAgent).toBe(true);
    expect(readConfig({ ...secrets, CADDIS_EMBEDDED_AGENT: "off" }).embeddedAgent).toBe(false);
    expect(readConfig({ ...secrets, CADDIS_ENV: "production" }).embeddedAgent).toBe(false);
    expect(readConfig({ ...secrets, CADDIS_ENV: "production", CADDIS_EMBEDDED_AGENT: "on" }))
      .toMatchObject({ embeddedAgent: true });
    expect(problemsOf({ ...secrets, CADDIS_EMBEDDED_AGENT: "yes" })[0]).toMatch(
      /^CADDIS_EMBEDDED_AGENT:/,
    );
  });

  test("production refuses a short secret key", () => {
    const problems = problemsOf({
      CADDIS_ENV: "production",
      CADDIS_SECRET_KEY: "too-short-secret",
      CADDIS_ENCRYPTION_KEYS: goodKeys,
      CADDIS_AGENT_SIGNING_KEY: goodAgentKey,
    });
    expect(problems).toEqual([expect.stringContaining("at least 32 bytes")]);
  });

  test("production refuses the example values from the docs", () => {
    for (const example of EXAMPLE_SECRETS) {
      const asSecret = problemsOf({
        CADDIS_ENV: "production",
        CADDIS_SECRET_KEY: example,
        CADDIS_ENCRYPTION_KEYS: goodKeys,
        CADDIS_AGENT_SIGNING_KEY: goodAgentKey,
      });
      const asKeyring = problemsOf({
        CADDIS_ENV: "production",
        CADDIS_SECRET_KEY: goodSecret,
        CADDIS_ENCRYPTION_KEYS: example,
        CADDIS_AGENT_SIGNING_KEY: goodAgentKey,
      });
      expect([...asSecret, ...asKeyring].join("\n")).toContain("example");
    }
  });

  test("production refuses a placeholder made of one repeated character", () => {
    const problems = problemsOf({
      CADDIS_ENV: "production",
      CADDIS_SECRET_KEY: "a".repeat(64),
      CADDIS_ENCRYPTION_KEYS: goodKeys,
      CADDIS_AGENT_SIGNING_KEY: goodAgentKey,
    });
    expect(problems).toEqual([expect.stringContaining("example value")]);
  });

  test("production accepts strong secrets", () => {
    const config = readConfig({
      CADDIS_ENV: "production",
      CADDIS_SECRET_KEY: goodSecret,
      CADDIS_ENCRYPTION_KEYS: `${generateKeyringEntry(2)},${goodKeys}`,
      CADDIS_AGENT_SIGNING_KEY: goodAgentKey,
    });
    expect(config.keyring.map((k) => k.version)).toEqual([2, 1]);
  });

  test("never echoes a secret value in its error", () => {
    const badKey = "1:c2hvcnQta2V5LXRoYXQtaXMtbm90LTMyLWJ5dGVz";
    const problems = problemsOf({
      CADDIS_ENV: "production",
      CADDIS_SECRET_KEY: "short-but-secret-value",
      CADDIS_ENCRYPTION_KEYS: badKey,
      CADDIS_AGENT_SIGNING_KEY: goodAgentKey,
    });
    const text = problems.join("\n");
    expect(text).not.toContain("short-but-secret-value");
    expect(text).not.toContain("c2hvcnQta2V5");
  });

  test("treats an empty variable as unset", () => {
    const config = readConfig({
      CADDIS_PORT: "",
      CADDIS_SECRET_KEY: goodSecret,
      CADDIS_ENCRYPTION_KEYS: goodKeys,
      CADDIS_AGENT_SIGNING_KEY: goodAgentKey,
    });
    expect(config.port).toBe(8080);
  });
});

describe("signing-key rotation in config", () => {
  test("accepts several signing keys, newest first", () => {
    const config = readConfig({
      CADDIS_ENV: "production",
      CADDIS_SECRET_KEY: `${goodSecret}-new, ${goodSecret}`,
      CADDIS_ENCRYPTION_KEYS: goodKeys,
      CADDIS_AGENT_SIGNING_KEY: goodAgentKey,
    });
    expect(config.secretKeys.map((k) => new TextDecoder().decode(k))).toEqual([
      `${goodSecret}-new`,
      goodSecret,
    ]);
  });

  test("checks every signing key, and refuses a repeated one", () => {
    const problems = problemsOf({
      CADDIS_ENV: "production",
      CADDIS_SECRET_KEY: `${goodSecret},short,${goodSecret}`,
      CADDIS_ENCRYPTION_KEYS: goodKeys,
      CADDIS_AGENT_SIGNING_KEY: goodAgentKey,
    });
    expect(problems).toEqual([
      "CADDIS_SECRET_KEY entry 2: must be at least 32 bytes in production",
      "CADDIS_SECRET_KEY entry 3: repeats an earlier key",
    ]);
  });
});
