import { describe, expect, test } from "bun:test";
import { compileAllowlist, formatRange, parseAllowlistEntry } from "./ip-allowlist.ts";

function canonical(entry: string): string {
  const range = parseAllowlistEntry(entry);
  if (typeof range === "string") throw new Error(`${entry} ${range}`);
  return formatRange(range);
}

describe("parsing entries", () => {
  test("accepts addresses and ranges and stores them canonically", () => {
    expect(canonical("10.0.0.0/8")).toBe("10.0.0.0/8");
    expect(canonical(" 192.168.1.7 ")).toBe("192.168.1.7");
    expect(canonical("192.168.1.7/32")).toBe("192.168.1.7");
    expect(canonical("0.0.0.0/0")).toBe("0.0.0.0/0");
    expect(canonical("2001:DB8:0:0::/32")).toBe("2001:db8::/32");
    expect(canonical("::1")).toBe("::1");
    expect(canonical("::1/128")).toBe("::1");
    expect(canonical("::/0")).toBe("::/0");
  });

  test("an IPv4-mapped IPv6 entry becomes the IPv4 range it stands for", () => {
    expect(canonical("::ffff:10.0.0.0/104")).toBe("10.0.0.0/8");
    expect(canonical("::ffff:192.0.2.1")).toBe("192.0.2.1");
    expect(canonical("::ffff:c000:0201")).toBe("192.0.2.1");
  });

  test("refuses malformed input, saying what is wrong", () => {
    for (
      const bad of [
        "",
        "localhost",
        "10.0.0",
        "10.0.0.256",
        "010.0.0.1",
        "10.0.0.0/",
        "10.0.0.0/08",
        "10.0.0.0/x",
        "1.2.3.4:80",
        "[::1]",
        "fe80::1%eth0",
        "1::2::3",
        "10.0.0.0/8, 11.0.0.0/8",
        "' OR 1=1 --",
      ]
    ) {
      expect(typeof parseAllowlistEntry(bad)).toBe("string");
    }
    expect(parseAllowlistEntry("nonsense")).toBe("is not an IPv4 or IPv6 address or CIDR range");
  });

  test("refuses prefix lengths past the address size", () => {
    expect(parseAllowlistEntry("10.0.0.0/33")).toBe("has a prefix length outside 0–32");
    expect(parseAllowlistEntry("::/129")).toBe("has a prefix length outside 0–128");
    expect(parseAllowlistEntry("::ffff:10.0.0.0/95")).toBe("has a prefix length outside 96–128");
  });

  test("refuses a range with host bits set and suggests the network", () => {
    expect(parseAllowlistEntry("10.0.0.1/8")).toBe("has host bits set; did you mean 10.0.0.0/8?");
    expect(parseAllowlistEntry("2001:db8::1/32")).toBe(
      "has host bits set; did you mean 2001:db8::/32?",
    );
  });
});

describe("matching client addresses", () => {
  test("an empty list allows any client, even one whose address is unknown", () => {
    const allowed = compileAllowlist([]);
    expect(allowed("203.0.113.9")).toBe(true);
    expect(allowed(undefined)).toBe(true);
  });

  test("IPv4 ranges match at their edges and nowhere else", () => {
    const allowed = compileAllowlist(["10.0.0.0/8", "192.168.1.7"]);
    expect(allowed("10.0.0.0")).toBe(true);
    expect(allowed("10.255.255.255")).toBe(true);
    expect(allowed("11.0.0.0")).toBe(false);
    expect(allowed("9.255.255.255")).toBe(false);
    expect(allowed("192.168.1.7")).toBe(true);
    expect(allowed("192.168.1.8")).toBe(false);
  });

  test("IPv6 ranges match at their edges; ::1 is not 127.0.0.1", () => {
    const allowed = compileAllowlist(["2001:db8::/32", "::1"]);
    expect(allowed("2001:db8::")).toBe(true);
    expect(allowed("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")).toBe(true);
    expect(allowed("2001:db9::")).toBe(false);
    expect(allowed("::1")).toBe(true);
    expect(allowed("127.0.0.1")).toBe(false);
    expect(compileAllowlist(["127.0.0.1/32"])("::1")).toBe(false);
  });

  test("an IPv4-mapped client address is matched as IPv4, never as IPv6", () => {
    expect(compileAllowlist(["10.0.0.0/8"])("::ffff:10.1.2.3")).toBe(true);
    expect(compileAllowlist(["::ffff:10.0.0.0/104"])("10.1.2.3")).toBe(true);
    expect(compileAllowlist(["::/0"])("10.1.2.3")).toBe(false);
  });

  test("a restricted list refuses a client whose address is unknown or garbled", () => {
    const allowed = compileAllowlist(["0.0.0.0/0", "::/0"]);
    expect(allowed(undefined)).toBe(false);
    expect(allowed("not-an-ip")).toBe(false);
    expect(allowed("10.0.0.1")).toBe(true);
  });

  test("a stored list whose entries no longer parse fails closed", () => {
    expect(compileAllowlist(["garbage"])("10.0.0.1")).toBe(false);
  });
});
