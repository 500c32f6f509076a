// Which address a request really came from, when Caddis sits behind reverse proxies. Only the
// proxies the operator lists are believed; everything left of them in X-Forwarded-For is whatever
// the client chose to send. Pure and runtime-neutral: the entry files pass in the socket peer.

/** An IP address as a number: 32 bits for IPv4, 128 for IPv6. IPv4-mapped IPv6 is IPv4. */
export interface IpAddress {
  version: 4 | 6;
  value: bigint;
}

interface IpRange extends IpAddress {
  prefix: number;
}

/** The parsed `CADDIS_TRUSTED_PROXIES`: addresses and CIDR ranges whose forwarding is believed. */
export interface TrustedProxies {
  readonly ranges: readonly IpRange[];
}

const BITS = { 4: 32, 6: 128 } as const;

/** Parses a comma-separated list of addresses and CIDR ranges; throws naming the bad entry. */
export function parseTrustedProxies(value: string): TrustedProxies {
  const ranges: IpRange[] = [];
  for (const raw of value.split(",")) {
    const entry = raw.trim();
    if (entry === "") continue;
    const problem = parseRange(entry, ranges);
    if (problem) throw new Error(`Invalid trusted proxy "${entry}": ${problem}`);
  }
  return { ranges };
}

function parseRange(entry: string, into: IpRange[]): string | undefined {
  const slash = entry.indexOf("/");
  const address = parseIp(slash === -1 ? entry : entry.slice(0, slash));
  if (!address) return "not an IPv4 or IPv6 address (ports, zones and brackets are not allowed)";
  const bits = BITS[address.version];
  let prefix = bits;
  if (slash !== -1) {
    const text = entry.slice(slash + 1);
    // A mapped range such as ::ffff:10.0.0.0/104 arrives as IPv4, so its prefix is shifted.
    const written = /^(0|[1-9]\d{0,2})$/.test(text) ? Number(text) : NaN;
    const mappedShift = address.version === 4 && entry.includes(":") ? 96 : 0;
    prefix = written - mappedShift;
    if (!(prefix >= 0 && prefix <= bits)) {
      return `prefix length must be ${mappedShift}–${bits + mappedShift}`;
    }
  }
  // Host bits set ("10.0.0.1/8") usually means a typo in the range, so it is refused, not masked.
  if (maskTo(address.value, prefix, bits) !== address.value) {
    const network = { version: address.version, value: maskTo(address.value, prefix, bits) };
    return `host bits are set; did you mean ${formatIp(network)}/${prefix}?`;
  }
  into.push({ ...address, prefix });
  return undefined;
}

/**
 * The client's address: the socket peer, unless the peer is a trusted proxy, in which case the
 * right-most untrusted X-Forwarded-For hop (entries further left are client-supplied). Undefined
 * when the peer is missing or not an IP address. Returned in canonical text form.
 */
export function clientIp(
  peer: string | undefined,
  forwardedFor: string | undefined,
  trusted: TrustedProxies,
): string | undefined {
  const peerIp = peer === undefined ? undefined : parseHop(peer);
  if (!peerIp) return undefined;
  let lastGood = peerIp;
  if (isTrusted(peerIp, trusted) && forwardedFor) {
    const hops = forwardedFor.split(",").map((hop) => hop.trim()).filter((hop) => hop !== "");
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = parseHop(hops[i] ?? "");
      // Garbage means no proxy we trust wrote it; the last hop a trusted proxy vouched for stands.
      if (!hop) break;
      lastGood = hop;
      if (!isTrusted(hop, trusted)) break;
    }
  }
  return formatIp(lastGood);
}

/** Whether an address falls in one of the trusted ranges. */
export function isTrusted(ip: IpAddress, trusted: TrustedProxies): boolean {
  const bits = BITS[ip.version];
  return trusted.ranges.some((range) =>
    range.version === ip.version &&
    maskTo(ip.value, range.prefix, bits) === range.value
  );
}

// A hop as proxies write it: "1.2.3.4", "1.2.3.4:5678", "2001:db8::1", "[2001:db8::1]:443",
// "fe80::1%eth0". The zone is dropped: it names an interface of the proxy, not the client.
function parseHop(text: string): IpAddress | undefined {
  let host = text.trim();
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(host);
  if (bracketed?.[1]) host = bracketed[1];
  else if (/^[\d.]+:\d{1,5}$/.test(host)) host = host.slice(0, host.indexOf(":"));
  const zone = host.indexOf("%");
  if (zone > 0 && host.includes(":")) host = host.slice(0, zone);
  return parseIp(host);
}

/** Parses a bare IPv4 or IPv6 address; IPv4-mapped IPv6 comes back as IPv4. */
export function parseIp(text: string): IpAddress | undefined {
  if (!text.includes(":")) {
    const v4 = parseIpv4(text);
    return v4 === undefined ? undefined : { version: 4, value: v4 };
  }
  const v6 = parseIpv6(text);
  if (v6 === undefined) return undefined;
  if (v6 >> 32n === 0xffffn) return { version: 4, value: v6 & 0xffffffffn };
  return { version: 6, value: v6 };
}

function parseIpv4(text: string): bigint | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    // Leading zeros are refused: some parsers read "010" as octal 8, others as decimal 10.
    if (!/^(0|[1-9]\d{0,2})$/.test(part) || Number(part) > 255) return undefined;
    value = (value << 8n) | BigInt(part);
  }
  return value;
}

function parseIpv6(text: string): bigint | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const head = groups(halves[0] ?? "", halves.length === 1);
  const tail = halves.length === 2 ? groups(halves[1] ?? "", true) : [];
  if (!head || !tail) return undefined;
  const explicit = head.length + tail.length;
  // "::" stands for at least one zero group, so with it fewer than 8 groups may be written.
  if (halves.length === 1 ? explicit !== 8 : explicit > 7) return undefined;
  const all = [...head, ...new Array<number>(8 - explicit).fill(0), ...tail];
  return all.reduce((value, group) => (value << 16n) | BigInt(group), 0n);
}

// Hex groups of one side of "::"; a dotted IPv4 may end the address and counts as two groups.
function groups(text: string, mayEndWithIpv4: boolean): number[] | undefined {
  if (text === "") return [];
  const parts = text.split(":");
  const out: number[] = [];
  for (const [i, part] of parts.entries()) {
    if (mayEndWithIpv4 && i === parts.length - 1 && part.includes(".")) {
      const v4 = parseIpv4(part);
      if (v4 === undefined) return undefined;
      out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
    } else if (/^[0-9a-fA-F]{1,4}$/.test(part)) {
      out.push(parseInt(part, 16));
    } else {
      return undefined;
    }
  }
  return out;
}

/** Canonical text: dotted IPv4, or RFC 5952 IPv6 (lowercase, longest zero run as "::"). */
export function formatIp(ip: IpAddress): string {
  if (ip.version === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => String((ip.value >> shift) & 0xffn)).join(".");
  }
  const words = [112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((s) =>
    Number((ip.value >> s) & 0xffffn)
  );
  let best = { start: -1, length: 1 }; // a single zero group is not compressed (RFC 5952 4.2.2)
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > best.length) best = { start: i, length: j - i };
    i = j === i ? i + 1 : j;
  }
  const hex = words.map((w) => w.toString(16));
  if (best.start === -1) return hex.join(":");
  const left = hex.slice(0, best.start).join(":");
  const right = hex.slice(best.start + best.length).join(":");
  return `${left}::${right}`;
}

// Keeps the top `prefix` bits of a `bits`-wide value.
function maskTo(value: bigint, prefix: number, bits: number): bigint {
  const hostBits = BigInt(bits - prefix);
  return (value >> hostBits) << hostBits;
}
