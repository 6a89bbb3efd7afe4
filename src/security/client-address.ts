// The client's address: the socket peer, or, when the peer is a trusted
// proxy, the right-most X-Forwarded-For hop that is not a trusted proxy (read
// from the right, so a client cannot forge its way past the proxy's own
// entry). A hop the client wrote itself is never taken.
import { type Cidr, isTrustedPeer } from "./trusted-proxies.ts";

export function clientAddress(
  peer: string | undefined,
  forwardedFor: string | undefined,
  trusted: Cidr[],
): string | null {
  if (!peer) return null;
  if (!forwardedFor || !isTrustedPeer(peer, trusted)) return stripMappedPrefix(peer);
  const hops = forwardedFor
    .split(",")
    .map((hop) => hop.trim())
    .filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i] as string;
    if (!isTrustedPeer(hop, trusted))
      return /^[0-9a-fA-F:.]+$/.test(hop) ? stripMappedPrefix(hop) : stripMappedPrefix(peer);
  }
  // Every hop is a trusted address: the right-most was written by the peer
  // itself; anything left of it may have been written by the client.
  return stripMappedPrefix(hops[hops.length - 1] ?? peer);
}

function stripMappedPrefix(address: string): string {
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}
