// The session cookie: an opaque token whose SHA-256 keys the session. The
// hashes of a Cookie header's session values are remembered per raw header
// (a browser sends the same header on every request), and the identity per
// cached session, so a warm request hashes and allocates nothing.
import { LRUCache } from "lru-cache";
import type { CredentialResult, Identity } from "../resolve/decide.ts";
import { cookieValues } from "../sessions/cookie-header.ts";
import type { SessionService } from "../sessions/service.ts";
import type { ResolvedSession } from "../sessions/store.ts";
import { hashToken, isWellFormedToken } from "../sessions/tokens.ts";
import { type CredentialStrategy, NOT_MINE } from "./strategy.ts";

const NONE: CredentialResult = { kind: "none" };
const MAX_HEADER_LENGTH = 8192;

export function sessionCookieStrategy(
  sessions: Pick<SessionService, "validateIds">,
  cookieName: string,
  options: { rememberHeaders?: number } = {},
): CredentialStrategy {
  const idsByHeader = new LRUCache<string, string[]>({ max: options.rememberHeaders ?? 10_000 });
  const identities = new WeakMap<ResolvedSession, CredentialResult>();

  function sessionIds(header: string): string[] {
    let ids = idsByHeader.get(header);
    if (ids === undefined) {
      ids = cookieValues(header, cookieName).filter(isWellFormedToken).map(hashToken);
      if (header.length <= MAX_HEADER_LENGTH) idsByHeader.set(header, ids);
    }
    return ids;
  }

  function asCredential(resolved: ResolvedSession | null): CredentialResult {
    if (!resolved) return NONE;
    let credential = identities.get(resolved);
    if (!credential) {
      const { session, user } = resolved;
      const identity: Identity = {
        userId: user.id,
        email: user.email,
        emailVerified: user.emailVerified,
        name: user.name,
        roles: user.roles,
        method: session.method,
        authenticatedAt: session.authenticatedAt,
      };
      credential = { kind: "identity", identity };
      identities.set(resolved, credential);
    }
    return credential;
  }

  return {
    name: "session",
    read({ bearer, cookie }) {
      // A bearer token is answered by its own strategies, never by the cookie.
      if (bearer !== undefined || !cookie) return NOT_MINE;
      const ids = sessionIds(cookie);
      if (ids.length === 0) return NONE;
      return sessions.validateIds(ids).then(asCredential);
    },
  };
}
