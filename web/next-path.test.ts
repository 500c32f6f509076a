import { describe, expect, test } from "bun:test";
import { loginUrl, safeNextPath } from "./next-path.ts";

describe("safeNextPath", () => {
  test("keeps same-site paths with their query and fragment", () => {
    expect(safeNextPath("/")).toBe("/");
    expect(safeNextPath("/account")).toBe("/account");
    expect(safeNextPath("/sites?page=2#top")).toBe("/sites?page=2#top");
    expect(safeNextPath("/a/../account")).toBe("/account");
  });

  test("refuses everything a browser could read as another host or scheme", () => {
    const refused = [
      undefined,
      null,
      "",
      "account",
      "//evil.example",
      "///evil.example",
      "/\\evil.example",
      "\\/evil.example",
      "https://evil.example/",
      "http:evil.example",
      "javascript:alert(1)",
      "data:text/html,x",
      "/\t/evil.example",
      "/\n/evil.example",
      "/ /evil.example",
      "/.//evil.example",
      "/%2e//evil.example",
      `/${"a".repeat(1100)}`,
    ];
    for (const raw of refused) expect(safeNextPath(raw)).toBeUndefined();
  });
});

describe("loginUrl", () => {
  test("encodes a safe next and drops an unsafe one", () => {
    expect(loginUrl("/account?x=1")).toBe("/login?next=%2Faccount%3Fx%3D1");
    expect(loginUrl("//evil.example")).toBe("/login");
    expect(loginUrl()).toBe("/login");
  });
});
