import { describe, expect, test } from "bun:test";
import { DEFAULT_AGENT_DIR, parseAgentConfig } from "./config.ts";

const TOKEN = `cde_${"a".repeat(52)}`;
const parse = (argv: string[], env: Record<string, string> = {}, isRoot = true) =>
  parseAgentConfig({ argv, env, isRoot });

describe("agent config", () => {
  test("enroll with the token from the environment", () => {
    expect(parse(["enroll", "--api", "https://panel.example.com/"], { CADDIS_ENROL_TOKEN: TOKEN }))
      .toEqual({
        ok: true,
        config: {
          command: "enroll",
          apiUrl: "https://panel.example.com",
          token: TOKEN,
          tokenFile: null,
          force: false,
          stateDir: DEFAULT_AGENT_DIR,
        },
      });
  });

  test("enroll with a token file and --force", () => {
    const result = parse([
      "enroll",
      "--api=http://127.0.0.1:8080",
      "--token-file",
      "/run/token",
      "--force",
    ]);
    expect(result).toMatchObject({
      ok: true,
      config: { tokenFile: "/run/token", token: null, force: true },
    });
  });

  test("--token is refused, pointing at CADDIS_ENROL_TOKEN, and its value is never echoed", () => {
    for (const argv of [["--token", TOKEN], [`--token=${TOKEN}`]]) {
      const result = parse(["enroll", "--api", "https://p.example", ...argv]);
      expect(result.ok).toBe(false);
      const text = result.ok ? "" : result.problems.join("\n");
      expect(text).toContain("set CADDIS_ENROL_TOKEN");
      expect(text).not.toContain(TOKEN);
    }
  });

  test("every problem is reported at once", () => {
    const result = parse(["enroll", "--bogus"], {
      CADDIS_AGENT_DIR: "relative/dir",
      CADDIS_AGENT_MODE: "yolo",
      CADDIS_ENROL_TOKEN: "not-a-token",
    });
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.problems).toEqual([
      'unexpected argument "--bogus"',
      "CADDIS_AGENT_DIR must be an absolute path",
      'CADDIS_AGENT_MODE must be system or sandbox, not "yolo"',
      "enroll needs --api <url>, the address of the Caddis panel",
      'CADDIS_ENROL_TOKEN is not an enrolment token (expected "cde_" and 52 characters)',
    ]);
  });

  test("a token must come from exactly one place", () => {
    expect(parse(["enroll", "--api", "https://p.example"])).toMatchObject({
      ok: false,
      problems: ["enroll needs the one-time token: set CADDIS_ENROL_TOKEN or pass --token-file"],
    });
    const both = parse(["enroll", "--api", "https://p.example", "--token-file", "/t"], {
      CADDIS_ENROL_TOKEN: TOKEN,
    });
    expect(both.ok).toBe(false);
  });

  test("the API URL must be plain http(s) without credentials", () => {
    for (
      const api of [
        "ftp://p.example",
        "https://u:p@p.example",
        "not a url",
        "https://p.example/?q=1",
      ]
    ) {
      expect(parse(["enroll", "--api", api], { CADDIS_ENROL_TOKEN: TOKEN }).ok).toBe(false);
    }
  });

  test("run: system mode as root, sandbox when asked or when not root", () => {
    const env = { CADDIS_AGENT_DIR: "/srv/agent", PATH: "/usr/bin" };
    expect(parse(["run"], env)).toEqual({
      ok: true,
      config: {
        command: "run",
        stateDir: "/srv/agent",
        mode: "system",
        modeReason: null,
        toolPath: "/usr/bin",
        httpPort: 8088,
      },
    });
    expect(parse(["run"], { ...env, CADDIS_AGENT_MODE: "sandbox" })).toMatchObject({
      config: { mode: "sandbox", modeReason: "CADDIS_AGENT_MODE=sandbox" },
    });
    expect(parse(["run"], { ...env, CADDIS_AGENT_MODE: "system" }, false)).toMatchObject({
      config: { mode: "sandbox", modeReason: "not running as root" },
    });
  });

  test("run: CADDIS_AGENT_HTTP_PORT takes an unprivileged port and refuses anything else", () => {
    expect(parse(["run"], { CADDIS_AGENT_HTTP_PORT: "18080" })).toMatchObject({
      config: { httpPort: 18080 },
    });
    expect(parse(["run"], { CADDIS_AGENT_HTTP_PORT: "1024" })).toMatchObject({
      config: { httpPort: 1024 },
    });
    expect(parse(["run"], { CADDIS_AGENT_HTTP_PORT: "65535" })).toMatchObject({
      config: { httpPort: 65_535 },
    });
    for (const bad of ["80", "1023", "65536", "0", "-1", "8080 ", "0x1f90", "8e3", "8088; id"]) {
      expect(parse(["run"], { CADDIS_AGENT_HTTP_PORT: bad })).toEqual({
        ok: false,
        problems: [`CADDIS_AGENT_HTTP_PORT must be a port from 1024 to 65535, not "${bad}"`],
      });
    }
  });

  test("unknown commands and stray flags are refused", () => {
    expect(parse(["deploy"]).ok).toBe(false);
    expect(parse(["run", "--api", "https://p.example"]).ok).toBe(false);
    expect(parse([])).toEqual({ ok: true, config: { command: "help" } });
  });
});
