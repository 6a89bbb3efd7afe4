// /_resolve, the proxy's auth subrequest, served straight on node:http: no
// Fetch Request or Response is built, headers are read from `req.headers`
// and written once with `res.writeHead`. It reads the original request and
// the credential, asks resolve/decide for the outcome, and renders it:
// 200 with identity headers, 401 (with the login URL in Location), 302 for a
// browser navigation that asked for one, 403, or 503.
// Invariant: an error never results in a 2xx with identity; anything thrown
// here is a 503.
//
// What makes the warm path cheap: the forwarded request is read with string
// operations (resolve/original-request.ts), the session hash is remembered
// per token (credentials/session-cookie.ts), and the 200's header block per
// identity and host while its x-auth-jwt is fresh (http/identity-headers.ts).
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { type Config, xsrfInUse } from "../config.ts";
import { type CredentialStrategy, readCredential } from "../credentials/strategy.ts";
import type { Metrics } from "../metrics.ts";
import {
  type CredentialResult,
  decide,
  decideUpstream,
  needsCredential,
  type Outcome,
  SAFE_METHODS,
  type UpstreamTokenResult,
  type XsrfInput,
} from "../resolve/decide.ts";
import {
  isBrowserNavigation,
  type OriginalRequest,
  readOriginalRequest,
  returnTarget,
} from "../resolve/original-request.ts";
import { findRequirement, type Requirement } from "../resolve/rules.ts";
import { isTrustedPeer } from "../security/trusted-proxies.ts";
import { cookieValues } from "../sessions/cookie-header.ts";
import type { Clock } from "../sessions/service.ts";
import type { AssertionSigner } from "../signing-keys/assertions.ts";
import { type Site, siteOf } from "../sites/sites.ts";
import { requestIdFor } from "./error-response.ts";
import { createIdentityHeaders } from "./identity-headers.ts";

export type ResolveDeps = {
  config: Config;
  strategies: readonly CredentialStrategy[];
  /** SITES: the strategies for a site's hosts (by its domain), reading that site's cookie only. */
  siteStrategies?: ReadonlyMap<string, readonly CredentialStrategy[]>;
  signer: AssertionSigner;
  metrics: Metrics;
  clock: Clock;
  /** The user's access token from a sign-in provider, for rules with upstream_token. */
  upstreamToken: (userId: string, provider: string) => Promise<UpstreamTokenResult>;
  logError: (error: unknown, context: string) => void;
};

type Target = { request: OriginalRequest | { error: string }; requirement: Requirement };

const NOT_READ: CredentialResult = { kind: "none" };
const OUTCOME_LABELS: Record<Outcome["kind"], string> = {
  allow: "allow",
  anonymous: "anonymous",
  unauthenticated: "unauthenticated",
  provider_reauth: "provider_reauth",
  step_up: "step_up",
  forbidden: "forbidden",
  invalid_request: "invalid",
  xsrf: "xsrf",
  invalid_credential: "invalid_credential",
  unavailable: "unavailable",
};

export type ResolveHandler = (req: IncomingMessage, res: ServerResponse) => void;

export function createResolveHandler(deps: ResolveDeps): ResolveHandler {
  const { config, metrics, clock, signer } = deps;
  const prefix = config.header_prefix;
  // Shared caches (nginx's proxy_cache, ingress-nginx's auth cache) are the
  // audience: "private" would forbid them. Vary keeps each credential's answer apart.
  const cacheControl =
    config.auth_cache_seconds > 0 ? `max-age=${config.auth_cache_seconds}` : "no-store";
  const identityHeaders = createIdentityHeaders({ config, signer, clock, cacheControl });
  /** An identity block with no-store (an answer that passed the XSRF check), made once per block. */
  const noStoreBlocks = new WeakMap<string[], string[]>();
  const noStore = (headers: string[]) => {
    let copy = noStoreBlocks.get(headers);
    if (!copy) {
      copy = [...headers];
      copy[copy.indexOf("cache-control") + 1] = "no-store";
      noStoreBlocks.set(headers, copy);
    }
    return copy;
  };
  const forwardCookies = config.forward_cookie_header;
  const xsrfAnywhere = xsrfInUse(config);
  // DEV_BYPASS_USER: every answer says so, whatever its status.
  const bypassHeader = config.dev_bypass_user ? [`${prefix}bypass`, "true"] : null;
  const sitesOn = config.sites.sites.length > 0;
  /**
   * Where a browser without a session goes: the login page, or on a
   * satellite the hop's start on the satellite's own host (sites/), which
   * sets its state cookie there before going to the home site.
   */
  const signInUrlFor = (request: OriginalRequest) => {
    const site = sitesOn ? siteOf(config.sites, request.host) : undefined;
    return site && !site.home
      ? `${config.sites.protocol}//${request.host}${config.auth_prefix}/sites/start`
      : config.login_url;
  };
  const ownCookies = new Set(
    ["", "__Host-", "__Secure-"].map((cookiePrefix) => `${cookiePrefix}${config.cookie_name}`),
  );

  /** The answer's Cookie: the request's cookies without gatehouse's own (absent when none is left, so the proxy removes the header). */
  function withAppCookies(req: IncomingMessage, headers: string[]): string[] {
    const cookie = req.headers.cookie;
    if (!cookie) return headers;
    const kept = cookie
      .split(";")
      .map((part) => part.trim())
      .filter((part) => part !== "" && !ownCookies.has(cookieName(part)));
    return kept.length === 0 ? headers : [...headers, "cookie", kept.join("; ")];
  }
  const stepUpUrl = `${config.public_url.origin}${config.auth_prefix}/mfa`;
  const enrolUrl = `${config.public_url.origin}${config.auth_prefix}/mfa/setup`;
  const counters = Object.fromEntries(
    Object.entries(OUTCOME_LABELS).map(([kind, outcome]) => [
      kind,
      metrics.resolveOutcome(outcome),
    ]),
  ) as Record<Outcome["kind"], { inc(): void }>;
  const onCredentialError = (error: unknown, strategy: string) => {
    if (strategy === "session") metrics.storeErrors.inc({ store: "sessions" });
    deps.logError(error, `${strategy} credential`);
  };

  function targetOf(req: IncomingMessage, trusted: boolean): Target {
    const h = req.headers;
    const request = readOriginalRequest({
      trusted,
      header: (name) => headerValue(h, name),
      method: req.method ?? "GET",
      ownUri: req.url ?? "/",
      ownHost: h.host ?? "localhost",
      ownProto: "http",
    });
    const requirement =
      "error" in request
        ? ({ access: "deny" } as const)
        : findRequirement(config.rules, request, config.default_access);
    return { request, requirement };
  }

  function otherRequirements(request: Target["request"]): Requirement[] | undefined {
    if ("error" in request || request.otherReadings.length === 0) return undefined;
    return request.otherReadings.map((reading) =>
      findRequirement(config.rules, { ...request, ...reading }, config.default_access),
    );
  }

  /** What the request carries for the XSRF check; read only for unsafe methods when some rule checks it. */
  function xsrfInput(req: IncomingMessage, target: Target): XsrfInput | undefined {
    if (!xsrfAnywhere || "error" in target.request || SAFE_METHODS.has(target.request.method))
      return undefined;
    return {
      byDefault: config.xsrf_protection,
      header: headerValue(req.headers, config.xsrf_header_name),
      cookies: cookieValues(req.headers.cookie, config.xsrf_cookie_name),
    };
  }

  function error(
    req: IncomingMessage,
    status: 401 | 403 | 503,
    code: string,
    message: string,
    extra: string[] = [],
    link?: string,
  ): [number, string[], string] {
    const requestId = requestIdFor(headerValue(req.headers, "x-request-id"));
    const body = JSON.stringify({
      error: link ? { code, message, requestId, link } : { code, message, requestId },
    });
    const headers = [
      "content-type",
      "application/json",
      "content-length",
      String(Buffer.byteLength(body)),
      "cache-control",
      // Neither an outage nor an XSRF refusal (which depends on a header no cache key holds) is kept.
      status === 503 || code === "xsrf" ? "no-store" : cacheControl,
      "vary",
      "Cookie, Authorization",
      "x-request-id",
      requestId,
      ...extra,
    ];
    return [status, headers, body];
  }

  /**
   * A 401 whose Location signs in again (the login page, or a provider's
   * sign-in): a 302 instead for a browser navigation that asked for one.
   * `code` tells a front end's XHR why: unauthenticated, session_expired,
   * provider_reauth.
   */
  function signInAnswer(
    req: IncomingMessage,
    request: OriginalRequest,
    trusted: boolean,
    signInUrl: string,
    code: string,
    message: string,
  ): [number, string[], string] {
    const header = (name: string) => headerValue(req.headers, name);
    const location = `${signInUrl}?rd=${encodeURIComponent(returnTarget(request, header, trusted))}`;
    const query = req.url?.indexOf("?") ?? -1;
    const wantsRedirect =
      query !== -1 &&
      new URLSearchParams(req.url?.slice(query + 1)).get("redirect") === "true" &&
      isBrowserNavigation(request, header);
    if (wantsRedirect)
      return [302, ["location", location, "content-length", "0", "cache-control", "no-store"], ""];
    // The code in a header too: nginx's auth_request cannot pass the body on.
    return error(
      req,
      401,
      code,
      message,
      ["location", location, "x-gatehouse-error", code],
      code === "provider_reauth" ? location : undefined,
    );
  }

  async function render(
    req: IncomingMessage,
    target: Target,
    outcome: Outcome,
    trusted: boolean,
    upstream: string[],
  ): Promise<[number, string[], string]> {
    switch (outcome.kind) {
      case "allow": {
        const host = (target.request as OriginalRequest).host;
        const headers = await identityHeaders.allow(outcome.identity, host);
        // A provider token is never kept in a shared auth cache, nor is an
        // answer that depended on the XSRF header (the cache key has no headers).
        if (upstream.length === 0)
          return [200, outcome.xsrfChecked ? noStore(headers) : headers, ""];
        const uncached = [...headers, ...upstream];
        uncached[uncached.indexOf("cache-control") + 1] = "no-store";
        return [200, uncached, ""];
      }
      case "anonymous":
        return [200, identityHeaders.anonymous, ""];
      case "unauthenticated":
        return outcome.expired
          ? signInAnswer(
              req,
              target.request as OriginalRequest,
              trusted,
              signInUrlFor(target.request as OriginalRequest),
              "session_expired",
              "the session has expired: sign in again",
            )
          : signInAnswer(
              req,
              target.request as OriginalRequest,
              trusted,
              signInUrlFor(target.request as OriginalRequest),
              "unauthenticated",
              "sign in to continue",
            );
      case "provider_reauth":
        return signInAnswer(
          req,
          target.request as OriginalRequest,
          trusted,
          `${config.public_url.origin}${config.auth_prefix}/oauth/${encodeURIComponent(outcome.provider)}`,
          "provider_reauth",
          outcome.reason,
        );
      case "step_up":
        // Never kept by an auth cache: the cookie stays the same once the factor is proven.
        return uncachedAnswer(
          signInAnswer(
            req,
            target.request as OriginalRequest,
            trusted,
            outcome.code === "mfa_enrolment_required" ? enrolUrl : stepUpUrl,
            outcome.code,
            outcome.reason,
          ),
        );
      case "forbidden":
        return error(req, 403, "forbidden", outcome.reason);
      case "xsrf":
        return error(req, 403, "xsrf", outcome.reason);
      case "invalid_request":
        return error(req, 403, "invalid_request", outcome.reason);
      case "invalid_credential":
        return error(req, 401, "invalid_token", outcome.reason, [
          "www-authenticate",
          'Bearer error="invalid_token"',
        ]);
      case "unavailable":
        return error(req, 503, "unavailable", outcome.reason, ["retry-after", "1"]);
    }
  }

  async function answer(req: IncomingMessage): Promise<[number, string[], string]> {
    const trusted = isTrustedPeer(req.socket.remoteAddress, config.trusted_proxies);
    const target = targetOf(req, trusted);
    let site: Site | undefined;
    if (sitesOn && !("error" in target.request)) {
      // SITES names every host gatehouse serves: any other gets no identity and no redirect.
      site = siteOf(config.sites, target.request.host);
      if (!site) {
        counters.forbidden.inc();
        return error(
          req,
          403,
          "unknown_site",
          `${target.request.host} is not one of the configured SITES`,
        );
      }
    }
    let credential =
      "error" in target.request || !needsCredential(target.requirement)
        ? NOT_READ
        : await readCredential(
            (site && deps.siteStrategies?.get(site.domain)) || deps.strategies,
            { authorization: req.headers.authorization, cookie: req.headers.cookie },
            onCredentialError,
          );
    // A session is honoured on its own site only (a satellite's cookie carried to another host is none).
    if (
      site &&
      credential.kind === "identity" &&
      credential.site !== undefined &&
      credential.site !== (site.home ? null : site.domain)
    )
      credential = NOT_READ;
    let outcome = decide({
      ...target,
      credential,
      otherRequirements: otherRequirements(target.request),
      xsrf: xsrfInput(req, target),
      now: clock.now(),
      mfaRequiredRoles: config.mfa_required_roles,
    });
    const upstream: string[] = [];
    if (outcome.kind === "allow" && outcome.upstreamToken) {
      const wanted = outcome.upstreamToken;
      const result = await deps.upstreamToken(outcome.identity.userId, wanted.provider);
      if (result.kind === "token")
        upstream.push(
          wanted.header,
          wanted.header === "authorization" ? `Bearer ${result.value}` : result.value,
        );
      outcome = decideUpstream(outcome, result);
    }
    counters[outcome.kind].inc();
    return render(req, target, outcome, trusted, upstream);
  }

  return function handleResolve(req: IncomingMessage, res: ServerResponse): void {
    answer(req)
      .catch((thrown): [number, string[], string] => {
        deps.logError(thrown, "resolve");
        counters.unavailable.inc();
        return error(req, 503, "unavailable", "cannot decide right now", ["retry-after", "1"]);
      })
      .then(([status, headers, body]) => {
        const sent = status === 200 && forwardCookies ? withAppCookies(req, headers) : headers;
        write(res, status, bypassHeader ? [...sent, ...bypassHeader] : sent, body);
      })
      .catch((thrown) => {
        // A header node refuses to write (a provider token with CR/LF, say): fail closed.
        deps.logError(thrown, "resolve answer");
        counters.unavailable.inc();
        if (res.headersSent) res.destroy();
        else
          write(
            res,
            ...error(req, 503, "unavailable", "cannot answer right now", ["retry-after", "1"]),
          );
      });
  };
}

function write(res: ServerResponse, status: number, headers: string[], body: string): void {
  res.writeHead(status, headers);
  res.end(body);
}

function uncachedAnswer(answer: [number, string[], string]): [number, string[], string] {
  const headers = [...answer[1]];
  const at = headers.indexOf("cache-control");
  if (at !== -1) headers[at + 1] = "no-store";
  return [answer[0], headers, answer[2]];
}

function cookieName(part: string): string {
  const eq = part.indexOf("=");
  return (eq === -1 ? part : part.slice(0, eq)).trim();
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
