// Where an API token may be used from: addresses and CIDR ranges, IPv4 and IPv6. Entries are
// stored in canonical form, so what the owner sees is exactly what is matched.
import { formatIp, type IpAddress, parseIp } from "../client-ip.ts";

/** At most this many entries per token: an allowlist is a few networks, not a blocklist. */
export const MAX_ALLOWLIST_ENTRIES = 20;

/** One parsed entry: a network address and how many leading bits of it must match. */
export interface IpRange extends IpAddress {
  prefix: number;
}

const BITS = { 4: 32, 6: 128 } as const;

// Keeps the top `prefix` bits of a `bits`-wide value.
function maskTo(value: bigint, prefix: number, bits: number): bigint {
  const hostBits = BigInt(bits - prefix);
  return (value >> hostBits) << hostBits;
}

/** Parses one entry ("10.0.0.0/8", "2001:db8::1"); a string saying what is wrong otherwise. */
export function parseAllowlistEntry(text: string): IpRange | string {
  const entry = text.trim();
  const slash = entry.indexOf("/");
  const address = parseIp(slash === -1 ? entry : entry.slice(0, slash));
  if (!address) return "is not an IPv4 or IPv6 address or CIDR range";
  const bits: number = BITS[address.version];
  let prefix = bits;
  if (slash !== -1) {
    const written = entry.slice(slash + 1);
    // An IPv4-mapped range (::ffff:10.0.0.0/104) parses as IPv4, so its prefix counts 96 fewer.
    const shift = address.version === 4 && entry.includes(":") ? 96 : 0;
    prefix = /^(0|[1-9]\d{0,2})$/.test(written) ? Number(written) - shift : NaN;
    if (!(prefix >= 0 && prefix <= bits)) {
      return `has a prefix length outside ${shift}–${bits + shift}`;
    }
  }
  // "10.0.0.1/8" is usually a typo for a range; refusing it beats silently widening it.
  const network = maskTo(address.value, prefix, bits);
  if (network !== address.value) {
    return `has host bits set; did you mean ${formatIp({ ...address, value: network })}/${prefix}?`;
  }
  return { ...address, prefix };
}

/** The canonical text of a range: a bare address for a single host, else `network/prefix`. */
export function formatRange(range: IpRange): string {
  const address = formatIp(range);
  return range.prefix === BITS[range.version] ? address : `${address}/${range.prefix}`;
}

/** Whether `ip` (canonical text, as client-ip.ts gives it) falls inside `range`. */
export function rangeContains(range: IpRange, ip: IpAddress): boolean {
  return range.version === ip.version &&
    maskTo(ip.value, range.prefix, BITS[range.version]) === range.value;
}

/** Decides, for one token, whether a request from a client address may use it. */
export type AllowlistCheck = (clientIp: string | undefined) => boolean;

/**
 * Compiles stored entries into a check: an empty list allows anywhere; a non-empty one only its
 * ranges, never a client whose address is unknown. An entry that no longer parses matches
 * nothing, so a damaged list fails closed rather than open.
 */
export function compileAllowlist(entries: readonly string[]): AllowlistCheck {
  if (entries.length === 0) return () => true;
  const ranges = entries.flatMap((entry) => {
    const range = parseAllowlistEntry(entry);
    return typeof range === "string" ? [] : [range];
  });
  return (clientIp) => {
    const ip = clientIp === undefined ? undefined : parseIp(clientIp);
    return ip !== undefined && ranges.some((range) => rangeContains(range, ip));
  };
}
