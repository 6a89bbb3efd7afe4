// Which peers may tell gatehouse about the original request through
// X-Forwarded-* and X-Original-* headers. Everyone else's copies are ignored.
import ipaddr from "ipaddr.js";

export type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

export function parseCidrList(items: string[]): Cidr[] {
  return items.map((item) => {
    try {
      return item.includes("/")
        ? ipaddr.parseCIDR(item)
        : ([ipaddr.parse(item), ipaddr.parse(item).kind() === "ipv4" ? 32 : 128] as Cidr);
    } catch {
      throw new Error(`"${item}" is not an IP address or CIDR range`);
    }
  });
}

// Peers are few (the proxies): the answer per address and range list is kept,
// so the hot path does not parse the same address on every request.
const answers = new WeakMap<Cidr[], Map<string, boolean>>();
const MAX_REMEMBERED = 1_000;

/** True when the peer address (as the socket reports it, IPv4-mapped IPv6 included) lies in one of the ranges. */
export function isTrustedPeer(address: string | undefined, ranges: Cidr[]): boolean {
  if (!address || ranges.length === 0) return false;
  let known = answers.get(ranges);
  if (!known) {
    known = new Map();
    answers.set(ranges, known);
  }
  const remembered = known.get(address);
  if (remembered !== undefined) return remembered;
  const answer = checkPeer(address, ranges);
  if (known.size >= MAX_REMEMBERED) known.clear();
  known.set(address, answer);
  return answer;
}

function checkPeer(address: string, ranges: Cidr[]): boolean {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.process(address);
  } catch {
    return false;
  }
  return ranges.some(
    ([range, bits]) => parsed.kind() === range.kind() && parsed.match(range, bits),
  );
}
