// The XSRF token of a session, for the signed double-submit pattern: an HMAC
// of a fixed label under the session's own secret (the cookie token, which
// scripts cannot read). The token is readable by scripts and proves nothing
// about the secret; a token planted by a sibling subdomain, or another
// user's, never matches this session's. Every replica computes the same
// token without a shared key, and a new session gets a new token.
import { createHmac } from "node:crypto";

const LABEL = "gatehouse xsrf v1";

export function xsrfTokenFor(sessionToken: string): string {
  return createHmac("sha256", sessionToken).update(LABEL).digest("base64url");
}

/**
 * Comparison of two tokens in time that depends only on their length (which
 * is public: every token is 43 characters), without allocating: it runs on
 * every unsafe request the resolver checks.
 */
export function sameToken(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}
