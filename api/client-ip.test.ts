import { describe, expect, test } from "bun:test";
import { clientIp, formatIp, parseIp, parseTrustedProxies } from "./client-ip.ts";

const trusted = parseTrustedProxies("127.0.0.1, 10.0.0.0/8,::1,fd00::/8");
const none = parseTrustedProxies("");

describe("parseTrustedProxies", () => {
  test("accepts addresses and CIDR ranges of both families", () => {
    expect(trusted.ranges).toHaveLength(4);
    expect(parseTrustedProxies("0.0.0.0/0,::/0").ranges).toHaveLength(2);
    expect(parseTrustedProxies(" 192.168.1.0/24 , ,2001:db8::/32 ").ranges).toHaveLength(2);
  });

  test("an empty value trusts nobody", () => {
    expect(none.ranges).toHaveLength(0);
    expect(clientIp("10.0.0.1", "1.2.3.4", none)).toBe("10.0.0.1");
  });

  test("names the bad entry", () => {
    const bad = [
      "10.0.0.0/33",
      "10.0.0.0/",
      "10.0.0.0/8/8",
      "fd00::/129",
      "256.0.0.1",
      "010.0.0.1",
      "localhost",
      "1.2.3.4:80",
      "[::1]",
      "fe80::1%eth0",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "12345::",
      "10.0.0.1/-1",
    ];
    for (const entry of bad) {
      expect(() => parseTrustedProxies(`127.0.0.1,${entry}`)).toThrow(`"${entry}"`);
    }
  });

  test("refuses a range with host bits set, suggesting the network", () => {
    expect(() => parseTrustedProxies("10.0.0.1/8")).toThrow("did you mean 10.0.0.0/8?");
    expect(() => parseTrustedProxies("fd00::1/8")).toThrow("did you mean fd00::/8?");
  });

  test("reads an IPv4-mapped range as the IPv4 range it covers", () => {
    const mapped = parseTrustedProxies("::ffff:10.0.0.0/104");
    expect(clientIp("10.9.8.7", "1.2.3.4", mapped)).toBe("1.2.3.4");
    expect(clientIp("11.0.0.1", "1.2.3.4", mapped)).toBe("11.0.0.1");
  });
});

describe("clientIp", () => {
  test("ignores X-Forwarded-For from an untrusted peer (spoofing)", () => {
    expect(clientIp("203.0.113.9", "1.2.3.4", trusted)).toBe("203.0.113.9");
    expect(clientIp("203.0.113.9", "127.0.0.1", trusted)).toBe("203.0.113.9");
  });

  test("uses the socket peer when there is no header", () => {
    expect(clientIp("127.0.0.1", undefined, trusted)).toBe("127.0.0.1");
    expect(clientIp("127.0.0.1", "", trusted)).toBe("127.0.0.1");
    expect(clientIp("127.0.0.1", " , ", trusted)).toBe("127.0.0.1");
  });

  test("is undefined without a usable peer, whatever the header says", () => {
    expect(clientIp(undefined, "1.2.3.4", trusted)).toBeUndefined();
    expect(clientIp("not-an-ip", "1.2.3.4", trusted)).toBeUndefined();
  });

  test("follows a chain through two trusted proxies", () => {
    // client → 10.1.1.1 (edge) → 127.0.0.1 (local Caddy) → Caddis
    expect(clientIp("127.0.0.1", "198.51.100.7, 10.1.1.1", trusted)).toBe("198.51.100.7");
  });

  test("ignores entries the client prepended on the left", () => {
    const header = "6.6.6.6, 127.0.0.1, 198.51.100.7, 10.1.1.1";
    expect(clientIp("127.0.0.1", header, trusted)).toBe("198.51.100.7");
  });

  test("takes the left-most hop when every hop is trusted", () => {
    expect(clientIp("127.0.0.1", "10.0.0.5, 10.0.0.6", trusted)).toBe("10.0.0.5");
  });

  test("stops at garbage and keeps the last hop a trusted proxy vouched for", () => {
    expect(clientIp("127.0.0.1", "unknown", trusted)).toBe("127.0.0.1");
    expect(clientIp("127.0.0.1", "198.51.100.7, <script>, 10.0.0.5", trusted)).toBe("10.0.0.5");
    expect(clientIp("127.0.0.1", "1.2.3.4 5.6.7.8", trusted)).toBe("127.0.0.1");
    expect(clientIp("127.0.0.1", "999.1.1.1", trusted)).toBe("127.0.0.1");
    expect(clientIp("127.0.0.1", "_hidden, 198.51.100.7", trusted)).toBe("198.51.100.7");
  });

  test("matches IPv6 ranges", () => {
    expect(clientIp("::1", "2001:db8::42, fd12:3456::1", trusted)).toBe("2001:db8::42");
    expect(clientIp("fd00:0:0:0:0:0:0:1", "2001:db8::42", trusted)).toBe("2001:db8::42");
    expect(clientIp("fe00::1", "2001:db8::42", trusted)).toBe("fe00::1");
    expect(clientIp("::2", "2001:db8::42", trusted)).toBe("::2");
  });

  test("normalises IPv4-mapped IPv6 to IPv4, for peers and hops", () => {
    expect(clientIp("::ffff:127.0.0.1", "::ffff:198.51.100.7", trusted)).toBe("198.51.100.7");
    expect(clientIp("::ffff:7f00:1", "198.51.100.7", trusted)).toBe("198.51.100.7");
    expect(clientIp("::FFFF:203.0.113.9", undefined, trusted)).toBe("203.0.113.9");
  });

  test("strips brackets, ports and zone ids", () => {
    expect(clientIp("127.0.0.1", "[2001:db8::42]:443", trusted)).toBe("2001:db8::42");
    expect(clientIp("127.0.0.1", "[2001:db8::42]", trusted)).toBe("2001:db8::42");
    expect(clientIp("127.0.0.1", "198.51.100.7:5555", trusted)).toBe("198.51.100.7");
    expect(clientIp("127.0.0.1", "fe80::1%eth0", trusted)).toBe("fe80::1");
    expect(clientIp("[::1]:8080", "198.51.100.7", trusted)).toBe("198.51.100.7");
  });

  test("returns addresses in canonical form", () => {
    expect(clientIp("2001:DB8:0:0:1:0:0:1", undefined, none)).toBe("2001:db8::1:0:0:1");
  });
});

describe("formatIp", () => {
  const roundTrip = (text: string) => {
    const ip = parseIp(text);
    return ip ? formatIp(ip) : undefined;
  };

  test("writes RFC 5952 text", () => {
    expect(roundTrip("::")).toBe("::");
    expect(roundTrip("::1")).toBe("::1");
    expect(roundTrip("1::")).toBe("1::");
    expect(roundTrip("2001:0db8:0000:0000:0000:ff00:0042:8329")).toBe("2001:db8::ff00:42:8329");
    expect(roundTrip("2001:db8:0:1:1:1:1:1")).toBe("2001:db8:0:1:1:1:1:1");
    expect(roundTrip("2001:0:0:1:0:0:0:1")).toBe("2001:0:0:1::1");
    expect(roundTrip("2001:db8:0:0:1:0:0:1")).toBe("2001:db8::1:0:0:1");
    expect(roundTrip("64:ff9b::192.0.2.33")).toBe("64:ff9b::c000:221");
    expect(roundTrip("0.0.0.0")).toBe("0.0.0.0");
  });

  test("refuses malformed addresses", () => {
    for (
      const text of ["", ":", ":::", "1:2:3:4:5:6:7::8", "1.2.3", "1.2.3.4.5", "::1.2.3", "g::"]
    ) {
      expect(parseIp(text)).toBeUndefined();
    }
  });
});
