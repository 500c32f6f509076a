import { expect, test } from "bun:test";
import { Writable } from "node:stream";
import { createLogger } from "./log.ts";

function capture() {
  let text = "";
  const sink = new Writable({
    write(chunk, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return { log: createLogger({ level: "debug" }, sink), text: () => text };
}

test("redacts secret-named fields at any depth", () => {
  const { log, text } = capture();
  log.info({
    password: "pw-AAA",
    user: { newPassword: "pw-BBB", totpCode: "123456", email: "a@example.com" },
    headers: { authorization: "Bearer tok-CCC", cookie: "__Host-caddis=tok-DDD" },
    list: [{ refreshToken: "tok-EEE" }, { apiKey: "key-FFF" }],
    config: { CADDIS_SECRET_KEY: "sk-GGG", CADDIS_ENCRYPTION_KEYS: "1:key-HHH" },
    privateKey: "pk-III",
  }, "event");
  const out = text();
  for (const secret of ["AAA", "BBB", "123456", "CCC", "DDD", "EEE", "FFF", "GGG", "HHH", "III"]) {
    expect(out).not.toContain(secret);
  }
  expect(out).toContain("a@example.com");
  expect(JSON.parse(out)).toMatchObject({ level: "info", msg: "event" });
});

test("hides passwords in connection strings, in fields and in messages", () => {
  const { log, text } = capture();
  log.error(
    { url: "postgres://caddis:s3cr3t-pw@db.internal:5432/caddis" },
    "cannot reach postgres://caddis:s3cr3t-pw@db.internal/x",
  );
  expect(text()).not.toContain("s3cr3t-pw");
  expect(text()).toContain("db.internal");
});

test("logs errors with their message but redacts secret fields attached to them", () => {
  const { log, text } = capture();
  const err = Object.assign(new Error("boom"), { token: "tok-ZZZ" });
  log.error({ err }, "failed");
  expect(text()).toContain("boom");
  expect(text()).not.toContain("tok-ZZZ");
});

test("drops bound query parameters from database errors", () => {
  const { log, text } = capture();
  const err = new Error(
    'Failed query: insert into "users" values ($1, $2)\nparams: usr_1,$argon2id$v=19$hash-AAA',
  );
  log.error({ err }, "query failed");
  expect(text()).toContain("Failed query");
  expect(text()).not.toContain("hash-AAA");
});
