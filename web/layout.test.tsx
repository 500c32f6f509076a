/** @jsxImportSource hono/jsx */
import { describe, expect, test } from "bun:test";
import { LOGOUT_PATH } from "../api/auth/cookies.ts";
import { Layout } from "./layout.tsx";

async function render(node: ReturnType<typeof Layout>): Promise<string> {
  return (await node).toString();
}

describe("layout", () => {
  test("marks only the current section's link with aria-current", async () => {
    const html = await render(
      <Layout title="Account" current="account" user={{ email: "a@example.com" }}>content</Layout>,
    );
    expect(html.match(/aria-current="page"/g)).toHaveLength(1);
    expect(html).toContain('<a href="/account" aria-current="page">Account</a>');
    expect(html).toContain('<a href="/">Dashboard</a>');
  });

  test("offers the audit log only to users who may read it", async () => {
    const member = await render(<Layout title="x" user={{ email: "a@example.com" }}>x</Layout>);
    expect(member).not.toContain('href="/audit"');
    const root = await render(
      <Layout title="x" user={{ email: "a@example.com", isSuperuser: true }}>x</Layout>,
    );
    expect(root).toContain('<a href="/audit">Audit</a>');
  });

  test("marks no link on pages outside the main sections", async () => {
    const html = await render(<Layout title="Status">content</Layout>);
    expect(html).not.toContain("aria-current");
    expect(html).toContain("<title>Status · Caddis</title>");
  });

  test("signed in: navigation, the user's email escaped, and a sign-out form button", async () => {
    const html = await render(
      <Layout title="Status" user={{ email: "<b>x</b>@example.com" }}>content</Layout>,
    );
    expect(html).toContain('<a href="/account">Account</a>');
    expect(html).toContain('<span class="signed-in-as">&lt;b&gt;x&lt;/b&gt;@example.com</span>');
    expect(html).toContain(
      `<form class="sign-out" method="post" action="${LOGOUT_PATH}"><span class="signed-in-as">`,
    );
    expect(html).toContain(
      '<button type="submit" class="button button-secondary">Sign out</button>',
    );
    expect(html).not.toContain('href="/login"');
  });

  test("signed out: only a sign-in link, no sections and no sign-out", async () => {
    const html = await render(<Layout title="Status">content</Layout>);
    expect(html).toContain('<a class="sign-in" href="/login">Sign in</a>');
    expect(html).not.toContain('aria-label="Main"');
    expect(html).not.toContain(LOGOUT_PATH);
  });

  test("loads extra page scripts deferred, by versioned URL", async () => {
    const html = await render(<Layout title="Sign in" scripts={["session.js"]}>content</Layout>);
    expect(html).toMatch(/<script src="\/static\/session\.js\?v=[0-9a-f]{12}" defer=""><\/script>/);
  });

  test("shows flash messages escaped, errors as alerts and the rest as status", async () => {
    const html = await render(
      <Layout
        title="Sites"
        flash={[
          { kind: "success", text: "Site created" },
          { kind: "error", text: "<script>alert(1)</script>" },
        ]}
      >
        content
      </Layout>,
    );
    expect(html).toContain('<p class="flash flash-success" role="status">Site created</p>');
    expect(html).toContain(
      '<p class="flash flash-error" role="alert">&lt;script&gt;alert(1)&lt;/script&gt;</p>',
    );
    expect(html).not.toContain("<script>alert");
  });

  test("keeps an empty flash area for htmx to swap messages into", async () => {
    const html = await render(<Layout title="Status">content</Layout>);
    expect(html).toContain('<div id="flash" class="flash-area"></div>');
  });
});
