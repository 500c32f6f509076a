/** @jsxImportSource hono/jsx */
import { describe, expect, test } from "bun:test";
import { Badge, Button, FormField, Table } from "./components.tsx";

describe("components", () => {
  test("FormField ties its label, hint and error to the input", () => {
    const html = String(
      <FormField label="Domain" name="domain" hint="Without https://" error="Domain is taken" />,
    );
    expect(html).toContain('<label for="field-domain">Domain</label>');
    expect(html).toContain('aria-invalid="true"');
    expect(html).toContain('aria-describedby="field-domain-hint field-domain-error"');
    expect(html).toContain('<p id="field-domain-error" class="field-error">Domain is taken</p>');
  });

  test("FormField without an error is not marked invalid", () => {
    const html = String(<FormField label="Name" name="name" value='a"b' />);
    expect(html).not.toContain("aria-invalid");
    expect(html).not.toContain("aria-describedby");
    expect(html).toContain('value="a&quot;b"');
  });

  test("Table renders header cells and escaped rows, or a placeholder when empty", () => {
    const html = String(
      <Table
        caption="Sites"
        headers={["Name", "State"]}
        rows={[["<b>", <Badge state="ok">Up</Badge>]]}
      />,
    );
    expect(html).toContain('<th scope="col">Name</th>');
    expect(html).toContain('<td>&lt;b&gt;</td><td><span class="badge badge-ok">Up</span></td>');
    const empty = String(
      <Table caption="Sites" headers={["Name"]} rows={[]} empty="No sites yet." />,
    );
    expect(empty).toContain('<td class="table-empty" colspan="1">No sites yet.</td>');
  });

  test("Button defaults to a primary submit button", () => {
    expect(String(<Button>Save</Button>)).toBe(
      '<button type="submit" class="button button-primary">Save</button>',
    );
  });
});
