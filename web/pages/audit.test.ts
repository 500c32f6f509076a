import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestApp, type TestApp } from "../../scripts/testing/app.ts";
import { setupSuperuser, TEST_PASSWORD } from "../../scripts/testing/auth.ts";
import { recordAuditNow } from "../../api/services/audit.ts";
import { createUser } from "../../api/services/users.ts";
import { formPost, pageGet, pageText, panelSignIn } from "../../scripts/testing/panel.ts";

let t: TestApp;
let root: string;
let member: string;
const ROOT_EMAIL = "root@example.com";
const MEMBER_EMAIL = "dev@example.com";
const SCRIPT = "<script>alert(1)</script>";
const BREAKOUT = `"><img src=x onerror=alert(1)>`;

const signIn = (email: string) => panelSignIn(t, email);

const get = (cookie: string, path: string, headers: Record<string, string> = {}) =>
  pageGet(t, cookie, path, headers);
const post = (cookie: string, path: string) => formPost(t, cookie, path);
const html = (path: string, status?: number) => pageText(t, root, path, status);

/** Attribute names of every tag, with quoted values removed so escaped text cannot count. */
function attributeNames(page: string): string[] {
  const tags = page.match(/<[a-zA-Z][^>]*>/g) ?? [];
  return tags.flatMap((tag) =>
    [...tag.replace(/"[^"]*"/g, '""').matchAll(/\s([a-zA-Z-:]+)(?==|\s|>|$)/g)].map((m) =>
      m[1] ?? ""
    )
  );
}

beforeAll(async () => {
  t = await createTestApp();
  await setupSuperuser(t, ROOT_EMAIL);
  await t.deps.database.db.transaction((tx) =>
    createUser(tx, { actor: { kind: "system" } }, {
      email: MEMBER_EMAIL,
      password: TEST_PASSWORD,
      isSuperuser: false,
    })
  );
  // 60 numbered rows so the 50-row page has an older page behind it.
  for (let i = 1; i <= 60; i++) {
    await recordAuditNow(t.deps.database.db, { actor: { kind: "system" } }, {
      action: "test.bulk",
      resourceType: "widget",
      resourceId: `w-${i}`,
      outcome: "success",
      details: { n: i },
    });
  }
  await recordAuditNow(t.deps.database.db, {
    actor: { kind: "anonymous" },
    ip: "203.0.113.9",
    userAgent: BREAKOUT,
  }, {
    action: "test.evil",
    resourceType: "site",
    resourceId: SCRIPT,
    outcome: "denied",
    details: { note: SCRIPT, other: BREAKOUT, long: "x".repeat(300) },
  });
  root = await signIn(ROOT_EMAIL);
  member = await signIn(MEMBER_EMAIL);
});
afterAll(() => t.close());

describe("access", () => {
  test("a signed-out browser goes to the login page, coming back to /audit", async () => {
    const res = await t.app.request("/audit?action=auth.*");
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/login?next=%2Faudit%3Faction%3Dauth.*");
  });

  test("a signed-in user without audit.read gets a 403 page that names the permission", async () => {
    for (const res of [await get(member, "/audit"), await post(member, "/audit/verify")]) {
      expect(res.status).toBe(403);
      expect(res.headers.get("content-type")).toContain("text/html");
      const page = await res.text();
      expect(page).toContain("Not available to you");
      expect(page).toContain("You do not have the &quot;audit.read&quot; permission");
    }
  });
});

describe("GET /audit", () => {
  test("shows entries newest first with filters, exports and the verify form", async () => {
    const page = await html("/audit");
    expect(page).toContain('<a href="/audit" aria-current="page">Audit</a>');
    expect(page).toContain("test.evil");
    expect(page.indexOf("w-60")).toBeGreaterThan(page.indexOf("test.evil"));
    expect(page.indexOf("w-59")).toBeGreaterThan(page.indexOf("w-60"));
    expect(page).toContain('<span class="badge badge-warn">denied</span>');
    expect(page).toContain("203.0.113.9");
    expect(page).toContain('href="/api/v1/audit/export?format=csv"');
    expect(page).toContain('href="/api/v1/audit/export?format=json"');
    expect(page).toContain('<form method="post" action="/audit/verify">');
  });

  test("filters by action prefix, resource, outcome and time", async () => {
    const auth = await html("/audit?action=auth.*");
    expect(auth).toContain("auth.login");
    expect(auth).not.toContain("test.bulk");
    const one = await html("/audit?resourceType=widget&resourceId=w-7&outcome=success");
    expect(one).toContain("w-7");
    expect(one).not.toContain("w-8");
    expect(one).toContain('<option value="success" selected="">success</option>');
    const none = await html("/audit?from=2000-01-01T00:00&to=2000-01-02T00:00");
    expect(none).toContain("No entries match these filters.");
    expect(none).toContain('value="2000-01-01T00:00"');
  });

  test("export links carry the filters, with times as UTC ISO timestamps", async () => {
    const page = await html("/audit?action=test.*&from=2020-01-01T10:30&outcome=denied");
    expect(page).toContain(
      'href="/api/v1/audit/export?format=csv&amp;action=test.*&amp;outcome=denied' +
        '&amp;from=2020-01-01T10%3A30%3A00Z"',
    );
    const res = await get(
      root,
      "/api/v1/audit/export?format=json&action=test.*&outcome=denied&from=2020-01-01T10%3A30%3A00Z",
    );
    expect(res.status).toBe(200);
    const rows = JSON.parse(await res.text()) as { action: string }[];
    expect(rows.map((r) => r.action)).toEqual(["test.evil"]);
  });

  test("invalid filters show the service's messages beside the fields, not a 500", async () => {
    const page = await html(`/audit?from=yesterday&outcome=maybe&actor=${"a".repeat(201)}`, 400);
    expect(page).toContain("From (UTC) must be an ISO 8601 timestamp");
    expect(page).toContain("Outcome must be one of success, failure, denied");
    expect(page).toContain("Actor ID must be at most 200 characters");
    expect(page).toContain("Fix the filters above to see entries.");
    const reversed = await html("/audit?from=2026-02-01T00:00&to=2026-01-01T00:00", 400);
    expect(reversed).toContain("From (UTC) must be earlier than `to`");
    const cursor = await html("/audit?cursor=bm90LWEtbnVtYmVy", 400);
    expect(cursor).toContain("cursor is not a cursor this API issued");
  });

  test("hostile filter values and stored values render as text", async () => {
    const query = new URLSearchParams({ actor: SCRIPT, action: BREAKOUT, resourceId: SCRIPT });
    const filtered = await html(`/audit?${query}`);
    const invalid = await html(`/audit?${new URLSearchParams({ from: BREAKOUT })}`, 400);
    const stored = await html("/audit?action=test.evil");
    for (const page of [filtered, invalid, stored]) {
      expect(page).not.toContain("<script>alert");
      expect(page).not.toContain("<img src=x");
      expect(attributeNames(page)).not.toContain("onerror");
    }
    expect(filtered).toContain('value="&lt;script&gt;alert(1)&lt;/script&gt;"');
    expect(filtered).toContain('value="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"');
    expect(stored).toContain("<code>&lt;script&gt;alert(1)&lt;/script&gt;</code>");
    expect(stored).toContain("<dd>&quot;&gt;&lt;img src=x onerror=alert(1)&gt;</dd>");
    // The one-line preview is cut short; the full details are in the <details> element.
    expect(stored).toContain(`<summary>{&quot;long&quot;:&quot;${"x".repeat(70)}…</summary>`);
    expect(stored).toContain("x".repeat(300));
  });

  test("has no inline scripts, styles or event handler attributes", async () => {
    const page = await html("/audit?action=test.evil");
    for (const script of page.match(/<script[^>]*>/g) ?? []) expect(script).toContain(" src=");
    const names = attributeNames(page);
    expect(names).not.toContain("style");
    expect(names.filter((name) => /^on/i.test(name))).toEqual([]);
    expect(names.filter((name) => name.startsWith("hx-on"))).toEqual([]);
  });
});

describe("pagination", () => {
  test("the older-entries link carries the cursor and filters; its page has older rows", async () => {
    const first = await html("/audit?action=test.bulk");
    const href = first.match(/<a href="(\/audit\?action=test\.bulk&amp;cursor=[\w-]+)"/)?.[1];
    expect(href).toBeDefined();
    expect(first).toContain(`hx-get="${href}" hx-target="closest tr" hx-swap="outerHTML"`);
    expect(first).toContain("w-11");
    expect(first).not.toContain("w-10<");
    const path = (href ?? "").replaceAll("&amp;", "&");

    const plain = await html(path);
    expect(plain).toContain("<!DOCTYPE html>");
    expect(plain).toContain("w-10");
    expect(plain).not.toContain("w-11<");
    expect(plain).not.toContain("Older entries");

    const res = await get(root, path, { "hx-request": "true" });
    expect(res.headers.get("vary")).toContain("HX-Request");
    const fragment = await res.text();
    expect(fragment.startsWith("<tr>")).toBe(true);
    expect(fragment).not.toContain("<html");
    expect(fragment).toContain("w-1<");
    expect((fragment.match(/<tr>/g) ?? []).length).toBe(10);
  });
});

describe("POST /audit/verify", () => {
  test("reports an intact chain, then the first row an attacker edited", async () => {
    const ok = await post(root, "/audit/verify?action=test.evil");
    expect(ok.status).toBe(200);
    const okPage = await ok.text();
    expect(okPage).toMatch(
      /<p class="flash flash-success" role="status">Audit chain intact: \d+ rows checked; newest row #\d+, hash [0-9a-f]{64}\.<\/p>/,
    );
    // The filters the check was started from are still applied.
    expect(okPage).toContain('value="test.evil"');
    expect(okPage).not.toContain("test.bulk");

    await t.database.rawSql("alter table audit_log disable trigger user");
    await t.database.rawSql("update audit_log set action = 'x.y' where seq = 1");
    await t.database.rawSql("alter table audit_log enable trigger user");

    const broken = await (await post(root, "/audit/verify")).text();
    expect(broken).toContain(
      '<p class="flash flash-error" role="alert">Audit chain broken at row #1: hash does not match',
    );
  });

  test("is refused without a same-origin Origin header", async () => {
    const res = await t.app.request("/audit/verify", {
      method: "POST",
      headers: { cookie: root, origin: "https://evil.example" },
    });
    expect(res.status).toBe(403);
  });
});
