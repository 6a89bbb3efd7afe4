// GET|POST|... /_resolve: the proxy's auth subrequest. Answers 200 with
// identity headers, 401 (with the login URL in Location), 403, or 503 when it
// cannot decide. Invariant: an error never results in a 2xx with identity.

import type { Context } from "hono";
import { Hono } from "hono";
import type { Config } from "../config.ts";
import type { AssertionSigner } from "../keys/assertions.ts";
import type { Metrics } from "../metrics.ts";
import { UpstreamTokenError } from "../oauth/service.ts";
import { type Decision, decide, type Identity } from "../resolve/decide.ts";
import {
  isBrowserNavigation,
  type OriginalRequest,
  readOriginalRequest,
  returnTarget,
} from "../resolve/original-request.ts";
import { findRequirement, type IdentityClaim, type UpstreamToken } from "../resolve/rules.ts";
import { isTrustedPeer } from "../security/trusted-proxies.ts";
import type { SessionService } from "../sessions/service.ts";
import { type AppEnv, cookieValues, peerAddress } from "./context.ts";

export type BearerResolver = (token: string) => Promise<Identity | null>;

export type ResolveDeps = {
  config: Config;
  sessions: SessionService;
  signer: AssertionSigner;
  metrics: Metrics;
  /** Resolves `Authorization: Bearer` tokens (API keys, JWTs); none configured means every bearer token is refused. */
  bearer?: BearerResolver;
  /** The user's access token from an OAuth provider, for rules that pass it upstream. */
  upstreamToken?: (userId: string, provider: string) => Promise<string>;
  logError: (error: unknown, context: string) => void;
};

type Credential =
  | { kind: "none" }
  | { kind: "invalid"; message: string }
  | { kind: "identity"; identity: Identity };

class StoreUnavailable extends Error {}

export function resolveRoutes(deps: ResolveDeps) {
  const { config, sessions, signer, metrics } = deps;
  const prefix = config.header_prefix;
  // Shared caches (nginx's proxy_cache, ingress-nginx's auth cache) are the
  // audience: "private" would forbid them. Vary keeps each credential's answer apart.
  const cacheControl =
    config.auth_cache_seconds > 0 ? `max-age=${config.auth_cache_seconds}` : "no-store";

  async function readCredential(c: Context<AppEnv>): Promise<Credential> {
    const authorization = c.req.header("authorization");
    if (authorization !== undefined) {
      const match = /^Bearer +([\x21-\x7e]{1,8192})$/i.exec(authorization.trim());
      if (!match?.[1])
        return { kind: "invalid", message: "the Authorization header must be Bearer <token>" };
      try {
        const identity = deps.bearer ? await deps.bearer(match[1]) : null;
        return identity
          ? { kind: "identity", identity }
          : { kind: "invalid", message: "the bearer token is not valid" };
      } catch (error) {
        deps.logError(error, "bearer");
        throw new StoreUnavailable();
      }
    }
    let resolved: Awaited<ReturnType<SessionService["validateAny"]>>;
    try {
      resolved = await sessions.validateAny(
        cookieValues(c.req.header("cookie"), config.session_cookie),
      );
    } catch (error) {
      metrics.storeErrors.inc({ store: "sessions" });
      deps.logError(error, "session lookup");
      throw new StoreUnavailable();
    }
    if (!resolved) return { kind: "none" };
    const { session, user } = resolved;
    return {
      kind: "identity",
      identity: {
        userId: user.id,
        email: user.email,
        emailVerified: user.emailVerified,
        name: user.name,
        roles: user.roles,
        method: session.method,
        authenticatedAt: session.authenticatedAt,
      },
    };
  }

  function json(
    c: Context<AppEnv>,
    status: 401 | 403 | 503,
    code: string,
    message: string,
    extra: Record<string, string> = {},
  ) {
    const body = JSON.stringify({
      error: { code, message, requestId: c.req.header("x-request-id") ?? null },
    });
    return new Response(body, {
      status,
      headers: {
        "content-type": "application/json",
        "content-length": String(Buffer.byteLength(body)),
        "cache-control": status === 503 ? "no-store" : cacheControl,
        vary: "Cookie, Authorization",
        ...extra,
      },
    });
  }

  /** The store or provider cannot answer: neither yes nor no, try again in a second. */
  function unavailable(c: Context<AppEnv>, message: string) {
    metrics.resolves.inc({ outcome: "unavailable" });
    return json(c, 503, "unavailable", message, { "retry-after": "1" });
  }

  async function allow(
    original: OriginalRequest,
    identity: Identity | null,
    extra: Record<string, string> = {},
  ) {
    const headers: Record<string, string> = {
      "content-length": "0",
      "cache-control": cacheControl,
      vary: "Cookie, Authorization",
      [`${prefix}anonymous`]: identity ? "false" : "true",
      ...extra,
    };
    for (const claim of config.identity_headers) {
      headers[`${prefix}${claim}`] = identity ? await claimValue(claim, identity, original) : "";
    }
    for (const [name, value] of Object.entries(identity?.extraHeaders ?? {})) {
      const header = `${prefix}${name}`;
      // A trusted issuer's extra claims never replace an identity header.
      if (!(header in headers)) headers[header] = encodeHeaderValue(value);
    }
    return new Response(null, { status: 200, headers });
  }

  function claimValue(
    claim: IdentityClaim,
    identity: Identity,
    original: OriginalRequest,
  ): string | Promise<string> {
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
      case "jwt":
        return signer.sign(identity, original.host);
    }
  }

  async function answer(c: Context<AppEnv>, original: OriginalRequest, decision: Decision) {
    metrics.resolves.inc({ outcome: decision.outcome });
    switch (decision.outcome) {
      case "allow":
        return allow(original, decision.identity);
      case "anonymous":
        return allow(original, null);
      case "forbidden":
        return json(c, 403, "forbidden", decision.reason);
      case "unauthenticated": {
        const header = (name: string) => c.req.header(name);
        const trusted = isTrustedPeer(peerAddress(c), config.trusted_proxies);
        const location = `${config.login_url}?rd=${encodeURIComponent(returnTarget(original, header, trusted))}`;
        const wantsRedirect =
          c.req.query("redirect") === "true" && isBrowserNavigation(original, header);
        if (wantsRedirect)
          return new Response(null, {
            status: 302,
            headers: { location, "content-length": "0", "cache-control": "no-store" },
          });
        return json(c, 401, "unauthenticated", "sign in to continue", { location });
      }
    }
  }

  const app = new Hono<AppEnv>();
  app.all("/_resolve", async (c) => {
    const trusted = isTrustedPeer(peerAddress(c), config.trusted_proxies);
    const own = new URL(c.req.url);
    const original = readOriginalRequest({
      trusted,
      header: (name) => c.req.header(name),
      method: c.req.method,
      ownUri: `${own.pathname}${own.search}`,
      ownHost: own.host,
      ownProto: own.protocol === "https:" ? "https" : "http",
    });
    if ("error" in original) {
      metrics.resolves.inc({ outcome: "invalid" });
      return json(c, 403, "invalid_request", original.error);
    }
    const requirement = findRequirement(config.rules, original, config.default_access);
    if (original.encodedSlashes && !requirement.allowEncodedSlashes) {
      metrics.resolves.inc({ outcome: "invalid" });
      return json(
        c,
        403,
        "invalid_request",
        "the original path contains an encoded / or \\ (%2F, %5C), which this rule does not allow",
      );
    }
    if (requirement.access === "deny") return answer(c, original, decide(requirement, null));
    let credential: Credential;
    try {
      credential = await readCredential(c);
    } catch (error) {
      if (!(error instanceof StoreUnavailable)) throw error;
      // A public resource can still be served anonymously; anything else fails closed.
      if (requirement.access === "public") return answer(c, original, { outcome: "anonymous" });
      return unavailable(c, "cannot check credentials right now");
    }
    if (credential.kind === "invalid") {
      metrics.resolves.inc({ outcome: "invalid_credential" });
      return json(c, 401, "invalid_token", credential.message, {
        "www-authenticate": 'Bearer error="invalid_token"',
      });
    }
    const identity = credential.kind === "identity" ? credential.identity : null;
    const decision = decide(requirement, identity);
    const wanted = requirement.access === "authenticated" && requirement.upstreamToken;
    if (decision.outcome !== "allow" || !wanted) return answer(c, original, decision);
    return withUpstreamToken(c, original, decision.identity, wanted);
  });

  /** Allows with the user's provider token in the configured header, or says why not. */
  async function withUpstreamToken(
    c: Context<AppEnv>,
    original: OriginalRequest,
    identity: Identity,
    wanted: UpstreamToken,
  ) {
    if (identity.method === "jwt" || !deps.upstreamToken)
      return answer(c, original, {
        outcome: "forbidden",
        reason:
          "a bearer token from another issuer carries no provider token; use a browser session or an API key",
      });
    try {
      const token = await deps.upstreamToken(identity.userId, wanted.provider);
      const value = wanted.header === "authorization" ? `Bearer ${token}` : token;
      metrics.resolves.inc({ outcome: "allow" });
      // A provider token is never kept in a shared auth cache.
      return allow(original, identity, { [wanted.header]: value, "cache-control": "no-store" });
    } catch (error) {
      if (!(error instanceof UpstreamTokenError)) {
        deps.logError(error, "upstream token");
        return unavailable(c, "cannot read the provider token right now");
      }
      if (error.reason === "not_linked")
        return answer(c, original, { outcome: "forbidden", reason: error.message });
      if (error.reason === "expired") return answer(c, original, { outcome: "unauthenticated" });
      return unavailable(c, error.message);
    }
  }
  return app;
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
