// The XSRF token of a session, for the signed double-submit pattern: an HMAC
// of a fixed label under the session's own secret (the cookie token, which
// scripts cannot read). The token is readable by scripts and proves nothing
// about the secret; a token planted by a sibling subdomain, or another
// user's, never matches this session's. Every replica computes the same
// token without a shared key, and a new session gets a new token.
import { createHmac, timingSafeEqual } from "node:crypto";

const LABEL = "gatehouse xsrf v1";

export function xsrfTokenFor(sessionToken: string): string {
  return createHmac("sha256", sessionToken).update(LABEL).digest("base64url");
}

/** Constant-time comparison of two tokens. */
export function sameToken(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
