import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import {
  bearer,
  enableTwoFactor,
  postJson,
  setupSuperuser,
  TEST_PASSWORD,
  totpCodeAt,
} from "../../scripts/testing/auth.ts";

let t: TestApp;
let clockOffsetMs = 0;
let manualKey: string;
let backupCodes: string[];
const EMAIL = "root@example.com";
const stepMs = (steps: number) => steps * 30_000;
// Wrong codes count towards the account's sign-in throttle; tests that make some start a new
// throttle window (15 minutes) so earlier tests' failures do not block them.
const newThrottleWindow = () => (clockOffsetMs += 16 * 60 * 1000);

beforeAll(async () => {
  t = await createTestApp({ now: () => new Date(Date.now() + clockOffsetMs) });
  const { accessToken } = await setupSuperuser(t, EMAIL);
  ({ manualKey, backupCodes } = await enableTwoFactor(t, accessToken));
});
afterAll(() => t.close());

async function passwordStep(): Promise<string> {
  const res = await postJson(t, "/api/v1/auth/login", { email: EMAIL, password: TEST_PASSWORD });
  const body = await res.json() as {
    mfaRequired?: boolean;
    mfaToken?: string;
    accessToken?: string;
  };
  expect(res.status).toBe(200);
  expect(body.mfaRequired).toBe(true);
  expect(body.accessToken).toBeUndefined();
  return body.mfaToken ?? "";
}

/** Password steps one after another: parallel sign-ins would (rightly) trip the throttle. */
async function passwordSteps(count: number): Promise<string[]> {
  const tokens: string[] = [];
  for (let i = 0; i < count; i++) tokens.push(await passwordStep());
  return tokens;
}

const verify = (body: Record<string, string>) => postJson(t, "/api/v1/auth/2fa/verify", body);

describe("sign-in with 2FA on", () => {
  test("the password alone gives an mfa token, never tokens", async () => {
    await passwordStep();
  });

  test("the mfa token is accepted nowhere else", async () => {
    const mfaToken = await passwordStep();
    const asBearer = await t.app.request("/api/v1/auth/me", { headers: bearer(mfaToken) });
    expect(asBearer.status).toBe(401);
    const asRefresh = await postJson(t, "/api/v1/auth/refresh", { refreshToken: mfaToken });
    expect(asRefresh.status).toBe(401);
  });

  test("a code from the next step completes it; the same code replayed fails", async () => {
    clockOffsetMs += stepMs(2);
    const code = totpCodeAt(manualKey, t.deps.now());
    const ok = await verify({ mfaToken: await passwordStep(), code });
    expect(ok.status).toBe(200);
    const { accessToken } = await ok.json() as { accessToken: string };
    expect((await t.app.request("/api/v1/auth/me", { headers: bearer(accessToken) })).status).toBe(
      200,
    );

    const replay = await verify({ mfaToken: await passwordStep(), code });
    expect(replay.status).toBe(401);
  });

  test("codes of T-1 and T+1 work; T+2 does not", async () => {
    clockOffsetMs += stepMs(10);
    const now = t.deps.now().getTime();
    for (const [offset, status] of [[-1, 200], [1, 200], [2, 401]] as const) {
      const code = totpCodeAt(manualKey, new Date(now + stepMs(offset)));
      expect((await verify({ mfaToken: await passwordStep(), code })).status).toBe(status);
    }
  });

  test("ten parallel submissions of one code give exactly one success", async () => {
    newThrottleWindow();
    clockOffsetMs += stepMs(10);
    const code = totpCodeAt(manualKey, t.deps.now());
    const tokens = await passwordSteps(10);
    const results = await Promise.all(tokens.map((mfaToken) => verify({ mfaToken, code })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
  });

  test("five wrong codes kill the mfa token, even for a right code after", async () => {
    newThrottleWindow();
    clockOffsetMs += stepMs(10);
    const mfaToken = await passwordStep();
    for (let i = 0; i < 5; i++) {
      expect((await verify({ mfaToken, code: "000000" })).status).toBe(401);
    }
    const right = await verify({ mfaToken, code: totpCodeAt(manualKey, t.deps.now()) });
    expect(right.status).toBe(401);
  });

  test("the mfa token dies after 5 minutes", async () => {
    newThrottleWindow();
    clockOffsetMs += stepMs(10);
    const mfaToken = await passwordStep();
    clockOffsetMs += 5 * 60 * 1000 + 1000;
    const late = await verify({ mfaToken, code: totpCodeAt(manualKey, t.deps.now()) });
    expect(late.status).toBe(401);
  });

  test("a backup code works once, even when ten requests race for it", async () => {
    newThrottleWindow();
    const code = backupCodes[0] ?? "";
    const tokens = await passwordSteps(10);
    const results = await Promise.all(
      tokens.map((mfaToken) => verify({ mfaToken, backupCode: code })),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    newThrottleWindow(); // the nine losers counted as failed sign-in attempts
    const again = await verify({ mfaToken: await passwordStep(), backupCode: code });
    expect(again.status).toBe(401);
    const used = await t.database.rawSql(
      "select count(*)::int as n from audit_log where action = 'auth.backup_code_used'",
    );
    expect(Number(used[0]?.n)).toBe(1);
  });

  test("a backup code is accepted without its dash and in capitals", async () => {
    newThrottleWindow();
    const code = (backupCodes[1] ?? "").replace("-", "").toUpperCase();
    expect((await verify({ mfaToken: await passwordStep(), backupCode: code })).status).toBe(200);
  });
});

describe("managing 2FA", () => {
  async function signedIn(): Promise<string> {
    newThrottleWindow();
    const res = await verify({
      mfaToken: await passwordStep(),
      code: totpCodeAt(manualKey, t.deps.now()),
    });
    return (await res.json() as { accessToken: string }).accessToken;
  }

  test("regenerating backup codes needs the password and kills the old ones", async () => {
    const accessToken = await signedIn();
    const wrong = await postJson(t, "/api/v1/auth/2fa/backup-codes", {
      password: "not-my-password",
    }, bearer(accessToken));
    expect(wrong.status).toBe(400);
    const res = await postJson(
      t,
      "/api/v1/auth/2fa/backup-codes",
      { password: TEST_PASSWORD },
      bearer(accessToken),
    );
    const fresh = (await res.json() as { backupCodes: string[] }).backupCodes;
    expect(fresh).toHaveLength(10);
    expect(
      (await verify({ mfaToken: await passwordStep(), backupCode: backupCodes[2] ?? "" })).status,
    ).toBe(401);
    backupCodes = fresh;
  });

  test("disabling needs both the password and a code", async () => {
    const accessToken = await signedIn();
    clockOffsetMs += stepMs(3);
    const code = totpCodeAt(manualKey, t.deps.now());
    const noPassword = await postJson(t, "/api/v1/auth/2fa/disable", {
      password: "nope-nope-nope",
      code,
    }, bearer(accessToken));
    expect(noPassword.status).toBe(400);
    const noCode = await postJson(t, "/api/v1/auth/2fa/disable", {
      password: TEST_PASSWORD,
      code: "123456",
    }, bearer(accessToken));
    expect(noCode.status).toBe(400);
    const ok = await postJson(
      t,
      "/api/v1/auth/2fa/disable",
      { password: TEST_PASSWORD, code },
      bearer(accessToken),
    );
    expect(ok.status).toBe(204);
    const login = await postJson(t, "/api/v1/auth/login", {
      email: EMAIL,
      password: TEST_PASSWORD,
    });
    expect(await login.json()).toHaveProperty("accessToken");
  });
});

test("the TOTP secret is stored encrypted, and no code or secret reaches the log", async () => {
  const rows = await t.database.rawSql("select totp_secret from users");
  for (const row of rows) expect(String(row.totp_secret ?? "")).not.toContain(manualKey);
  const log = t.logText();
  expect(log).not.toContain(manualKey);
  for (const code of backupCodes) expect(log).not.toContain(code);
});
