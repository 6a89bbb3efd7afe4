// The header block of a 200 from /_resolve: every configured identity header
// (empty when anonymous), `x-auth-anonymous`, and a trusted issuer's extra
// claims, every value ASCII. A signed-in block is kept per identity object
// and host while its x-auth-jwt has more than half its life left and was
// signed with the current key; the identity objects come from the
// credential caches, so a revoked or changed session drops its blocks too.
import type { Config } from "../config.ts";
import type { Clock } from "../kernel/clock.ts";
import { amrClaim, hasMfa, type Identity } from "../kernel/identity.ts";
import type { IdentityClaim } from "../resolve/rules.ts";
import type { AssertionSigner } from "../signing-keys/assertions.ts";

type CachedBlock = { headers: string[]; reuseUntil: number; kid: string | null };

const MAX_HOSTS_PER_IDENTITY = 16;

export function createIdentityHeaders(deps: {
  config: Config;
  signer: AssertionSigner;
  clock: Clock;
  cacheControl: string;
}) {
  const { config, signer, clock, cacheControl } = deps;
  const prefix = config.header_prefix;
  const claimHeaders = config.identity_headers.map((claim) => `${prefix}${claim}`);
  const blocks = new WeakMap<Identity, Map<string, CachedBlock>>();

  function commonHeaders(anonymous: "true" | "false"): string[] {
    return [
      "content-length",
      "0",
      "cache-control",
      cacheControl,
      "vary",
      "Cookie, Authorization",
      `${prefix}anonymous`,
      anonymous,
    ];
  }

  const anonymousHeaders = [
    ...commonHeaders("true"),
    ...claimHeaders.flatMap((name) => [name, ""]),
  ];

  /** The block for a signed-in identity asked about on this host. */
  async function allowHeaders(identity: Identity, host: string): Promise<string[]> {
    const now = clock.now();
    let perHost = blocks.get(identity);
    const hit = perHost?.get(host);
    if (hit && hit.reuseUntil > now && (hit.kid === null || hit.kid === signer.currentKid()))
      return hit.headers;
    const headers = commonHeaders("false");
    // Reused while the x-auth-jwt inside has more than half its life left.
    let reuseUntil = now + (config.assertion_ttl * 1000) / 2;
    let kid: string | null = null;
    for (const claim of config.identity_headers) {
      if (claim === "jwt") {
        const assertion = await signer.sign(identity, host);
        reuseUntil = assertion.reuseUntil;
        kid = assertion.kid;
        headers.push(`${prefix}jwt`, assertion.jwt);
      } else headers.push(`${prefix}${claim}`, claimValue(claim, identity));
    }
    for (const [name, value] of Object.entries(identity.extraHeaders ?? {})) {
      const header = `${prefix}${name}`;
      // A trusted issuer's extra claims never replace an identity header.
      if (
        header !== `${prefix}anonymous` &&
        header !== `${prefix}bypass` &&
        !claimHeaders.includes(header)
      )
        headers.push(header, encodeHeaderValue(value));
    }
    if (!perHost || perHost.size >= MAX_HOSTS_PER_IDENTITY) {
      perHost = new Map();
      blocks.set(identity, perHost);
    }
    perHost.set(host, { headers, reuseUntil, kid });
    return headers;
  }

  function claimValue(claim: Exclude<IdentityClaim, "jwt">, identity: Identity): string {
    switch (claim) {
      case "user-id":
        return encodeHeaderValue(identity.userId);
      case "email":
        return encodeHeaderValue(identity.email);
      case "email-verified":
        return String(identity.emailVerified);
      case "name":
        return encodeHeaderValue(identity.name);
      case "roles":
        return identity.roles.map(encodeListItem).join(",");
      case "method":
        return encodeHeaderValue(identity.method);
      case "authenticated-at":
        return identity.authenticatedAt.toISOString();
      case "amr":
        return amrClaim(identity).map(encodeListItem).join(",");
      case "mfa":
        return String(hasMfa(identity));
    }
  }

  return { allow: allowHeaders, anonymous: anonymousHeaders };
}

// Printable ASCII without `%`, not starting or ending with a space: sent as it is.
const PLAIN_VALUE = /^(?:[\x21-\x24\x26-\x7e](?:[\x20-\x24\x26-\x7e]*[\x21-\x24\x26-\x7e])?)?$/;
const PLAIN_LIST_ITEM = /^[\x21-\x24\x26-\x2b\x2d-\x7e]*$/;

/**
 * Identity header values are ASCII, whatever an account or a token holds:
 * anything else is sent percent-encoded as UTF-8 (`encodeURIComponent`), and
 * so is any value holding a `%`, so `decodeURIComponent` gives every value
 * back exactly and two different values never arrive as the same string.
 */
export function encodeHeaderValue(value: string): string {
  return PLAIN_VALUE.test(value) ? value : encodeURIComponent(value);
}

/** An item of a comma-separated header (roles): a comma inside it is encoded too. */
function encodeListItem(value: string): string {
  return PLAIN_LIST_ITEM.test(value) ? value : encodeURIComponent(value);
}
