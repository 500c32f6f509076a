/** @jsxImportSource hono/jsx */
import { describe, expect, test } from "bun:test";
import { Layout } from "./layout.tsx";

async function render(node: ReturnType<typeof Layout>): Promise<string> {
  return (await node).toString();
}

describe("layout", () => {
  test("marks only the current section's link with aria-current", async () => {
    const html = await render(<Layout title="Sites" current="sites">content</Layout>);
    expect(html.match(/aria-current="page"/g)).toHaveLength(1);
    expect(html).toContain('<a href="/sites" aria-current="page">Sites</a>');
    expect(html).toContain('<a href="/hosts">Hosts</a>');
  });

  test("marks no link on pages outside the main sections", async () => {
    const html = await render(<Layout title="Status">content</Layout>);
    expect(html).not.toContain("aria-current");
    expect(html).toContain("<title>Status · Caddis</title>");
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
