// The session cookie: an opaque token whose SHA-256 keys the session. The
// hash is remembered per well-formed token (a browser sends the same one on
// every request), and the identity per cached session, so a warm request
// hashes nothing and builds no identity. A session read again (its cache
// entry expired, or read from Redis on every request) whose identity did not
// change keeps its identity object, so the resolver's answer for it stays
// cached too. Junk never enters a cache: only tokens of the right shape are
// remembered, 10,000 at most (~1.5 MB). A session that has expired is
// "none" marked expired (one shared object), so the answer can say so.
import { LRUCache } from "lru-cache";
import type { CredentialResult, Identity } from "../resolve/decide.ts";
import { amrOf, lastProofAt, lastSecondFactorAt } from "../sessions/amr.ts";
import { cookieValues } from "../sessions/cookie-header.ts";
import { EXPIRED, type SessionService } from "../sessions/service.ts";
import type { ResolvedSession } from "../sessions/store.ts";
import { hashToken, isWellFormedToken } from "../sessions/tokens.ts";
import { xsrfTokenFor } from "../sessions/xsrf.ts";
import { type CredentialStrategy, NOT_MINE } from "./strategy.ts";

const NONE: CredentialResult = { kind: "none" };
/** The cookie names a session that has expired: no identity, but the front end is told why. */
const EXPIRED_SESSION: CredentialResult = { kind: "none", expired: true };

export function sessionCookieStrategy(
  sessions: Pick<SessionService, "lookUpIds">,
  cookieName: string,
  options: {
    rememberTokens?: number;
    /** Give each session credential its XSRF token (when the resolver checks them). */
    xsrf?: boolean;
  } = {},
): CredentialStrategy {
  const idsByToken = new LRUCache<string, string>({ max: options.rememberTokens ?? 10_000 });
  const identities = new WeakMap<ResolvedSession, CredentialResult>();
  const lastById = new LRUCache<string, CredentialResult & { kind: "identity" }>({
    max: options.rememberTokens ?? 10_000,
  });

  function sessionId(token: string): string {
    let id = idsByToken.get(token);
    if (id === undefined) {
      id = hashToken(token);
      idsByToken.set(token, id);
    }
    return id;
  }

  /** One credential object per cached session (its token is the one whose hash keys it). */
  function asCredential(resolved: ResolvedSession, token: string): CredentialResult {
    const known = identities.get(resolved);
    if (known) return known;
    const { session, user } = resolved;
    let credential = lastById.get(session.id);
    if (!credential || !sameIdentity(credential.identity, resolved)) {
      const identity: Identity = {
        userId: user.id,
        email: user.email,
        emailVerified: user.emailVerified,
        name: user.name,
        roles: user.roles,
        method: session.method,
        authenticatedAt: session.authenticatedAt,
        auth: authOf(resolved),
      };
      // The site travels with the credential: the resolver honours a session on its own site only.
      const site = session.site ?? null;
      credential = options.xsrf
        ? { kind: "identity", identity, xsrfToken: xsrfTokenFor(token), site }
        : { kind: "identity", identity, site };
      lastById.set(session.id, credential);
    }
    identities.set(resolved, credential);
    return credential;
  }

  return {
    name: "session",
    read({ bearer, cookie }) {
      // A bearer token is answered by its own strategies, never by the cookie.
      if (bearer !== undefined || !cookie) return NOT_MINE;
      const tokens = cookieValues(cookie, cookieName).filter(isWellFormedToken);
      if (tokens.length === 0) return NONE;
      const ids = tokens.map(sessionId);
      return sessions.lookUpIds(ids).then((found) => {
        if (found === null) return NONE;
        if (found === EXPIRED) return EXPIRED_SESSION;
        return asCredential(found, tokens[ids.indexOf(found.session.id)] as string);
      });
    },
  };
}

function authOf({ session, user }: ResolvedSession): NonNullable<Identity["auth"]> {
  return {
    amr: amrOf(session),
    lastProofAt: lastProofAt(session),
    secondFactorAt: lastSecondFactorAt(session),
    enrolled: user.secondFactor === true,
  };
}

function sameIdentity(identity: Identity, resolved: ResolvedSession): boolean {
  const { session, user } = resolved;
  const auth = authOf(resolved);
  const known = identity.auth;
  return (
    known !== undefined &&
    known.lastProofAt === auth.lastProofAt &&
    known.secondFactorAt === auth.secondFactorAt &&
    known.enrolled === auth.enrolled &&
    known.amr.join(",") === auth.amr.join(",") &&
    identity.userId === user.id &&
    identity.email === user.email &&
    identity.emailVerified === user.emailVerified &&
    identity.name === user.name &&
    identity.method === session.method &&
    identity.authenticatedAt.getTime() === session.authenticatedAt.getTime() &&
    identity.roles.length === user.roles.length &&
    identity.roles.every((role, i) => role === user.roles[i])
  );
}
