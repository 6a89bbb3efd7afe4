// What every route file under AUTH_PREFIX shares: the context's typed
// variables, the services they call, and the small per-request helpers
// (client address, return target, the session cookie). Built once by
// routes.ts and handed to each concern's sub-app.
import type { Context } from "hono";
import { deleteCookie, setCookie } from "hono/cookie";
import type { UserAdmin } from "../../accounts/admin.ts";
import type { Audit, AuditReader } from "../../accounts/audit.ts";
import type { UserDirectory } from "../../accounts/directory.ts";
import type { EmailFlows } from "../../accounts/email-flows.ts";
import type { Invitations } from "../../accounts/invitations.ts";
import type { OwnSessions } from "../../accounts/own-sessions.ts";
import type { AccountService, ClientMeta, SignedIn } from "../../accounts/service.ts";
import type { UserLocales } from "../../accounts/user-locale.ts";
import type { ApiKeyService } from "../../api-keys/service.ts";
import type { Brand, Brands } from "../../branding/brands.ts";
import { type Config, xsrfInUse } from "../../config.ts";
import { ServiceError } from "../../errors.ts";
import type { Languages } from "../../i18n/languages.ts";
import { hashToken } from "../../kernel/tokens.ts";
import type { PendingSignIns } from "../../mfa/pending.ts";
import type { SecondFactors } from "../../mfa/service.ts";
import type { OAuthService } from "../../oauth/service.ts";
import type { PasskeyService } from "../../passkeys/service.ts";
import { type HostPolicy, validateRedirectTarget } from "../../security/redirect-target.ts";
import type { SessionService } from "../../sessions/service.ts";
import type { ResolvedSession } from "../../sessions/store.ts";
import { sameToken, xsrfTokenFor } from "../../sessions/xsrf.ts";
import type { HopCodes } from "../../sites/hop-codes.ts";
import { type AppEnv, clientMeta, cookieValues } from "../context.ts";
import type { Content, PageContext } from "../pages/layout.ts";
import { pageHelpers } from "./page-context.ts";
import { type SiteHelpers, siteHelpers } from "./site-cookie.ts";

/** The page a form post gets back when it fails: the form again, with the message. */
export type ErrorPage = (c: Context<AuthEnv>, error: ServiceError) => Content | Promise<Content>;

export type AuthVariables = AppEnv["Variables"] & {
  /** Answer with pages and redirects rather than JSON (a form post from a hosted page). */
  form?: boolean;
  /** The body's fields as sent, for the page that shows them again. */
  fields?: Record<string, unknown>;
  /** How this route answers a failed form post (errors.ts). */
  errorPage?: ErrorPage;
  /** The signed-in browser, when the session middleware found one. */
  signedIn?: ResolvedSession | null;
  /** The brand this request's pages wear (guards.ts sets it; the preview may choose another). */
  brand?: Brand;
};

export type AuthEnv = { Bindings: AppEnv["Bindings"]; Variables: AuthVariables };

export type AuthServices = {
  config: Config;
  accounts: AccountService;
  emailFlows: EmailFlows;
  /** Reads the session cookie. */
  sessions: SessionService;
  /** The signed-in user's own sessions (listed, revoked, audited). */
  ownSessions: OwnSessions;
  apiKeys: ApiKeyService;
  oauth: OAuthService;
  /** The hop's one-time codes between sites (SITES). */
  hopCodes: HopCodes;
  /** Second factors, and sign-ins half done until one is proven (mfa/). */
  factors: SecondFactors;
  pendingSignIns: PendingSignIns;
  /** Null when passkeys cannot work here (no relying party: passkeys/settings.ts). */
  passkeys: PasskeyService | null;
  /** The audit trail: written (audit), read (audits); the admin console's accounts. */
  audit: Audit;
  audits: AuditReader;
  directory: UserDirectory;
  userAdmin: UserAdmin;
  invitations: Invitations;
  /** The catalogues, and which language a request gets. */
  languages: Languages;
  brands: Brands; // the pages' looks (branding/brands.ts)
  /** The language stored with an account (its mail's language). */
  userLocales: UserLocales;
  logError: (error: unknown, context: string) => void;
  /** True for an error that says a store cannot be reached (db/unavailable.ts): a 503, not a 500. */
  isStoreUnavailable: (error: unknown) => boolean;
};

export type AuthKit = AuthServices &
  SiteHelpers & {
    prefix: string;
    /** What a page rendered for this request needs: its language and brand among it. */
    page<E extends AuthEnv>(c: Context<E>): PageContext;
    /** The brand of the request's site (or of the site its sign-in returns to). */
    brandOf<E extends AuthEnv>(c: Context<E>): Brand;
    hostPolicy: HostPolicy;
    /** The client's address (through trusted proxies) and user agent. */
    meta<E extends AuthEnv>(c: Context<E>): ClientMeta;
    /** The validated return target from ?rd=, else from the body's rd; undefined when none is acceptable. */
    returnTarget<E extends AuthEnv>(
      c: Context<E>,
      fields?: Record<string, unknown>,
    ): string | undefined;
    /** Sets the session cookie, and the session's XSRF cookie when some rule checks XSRF. */
    startSession<E extends AuthEnv>(c: Context<E>, signedIn: Pick<SignedIn, "token">): void;
    /**
     * Sets the XSRF cookie of the browser's live session (a session from
     * before XSRF_PROTECTION was switched on has none yet); nothing when no
     * rule checks XSRF.
     */
    keepXsrfCookie<E extends AuthEnv>(c: Context<E>, sessionId: string): void;
    /**
     * When some rule checks XSRF: throws 403 `xsrf` unless the request's XSRF
     * header equals its XSRF cookie and is this session's token (as the
     * resolver checks the application's unsafe requests).
     */
    checkXsrf<E extends AuthEnv>(c: Context<E>, sessionId: string): void;
    /** Clears the session cookie and the XSRF cookie (of the site the request is on). */
    endSession<E extends AuthEnv>(c: Context<E>): void;
  };

export function authKit(services: AuthServices): AuthKit {
  const { config } = services;
  const hostPolicy: HostPolicy = {
    publicUrl: config.public_url,
    allowedHosts: config.allowed_redirect_hosts,
    sites: config.sites,
  };
  const cookieOptions = {
    path: "/",
    httpOnly: true,
    secure: config.secure_cookies,
    sameSite: "Lax" as const,
    ...(config.cookie_domain ? { domain: config.cookie_domain } : {}),
  };
  const sites = siteHelpers(config, cookieOptions);
  const xsrf = xsrfInUse(config);
  // The XSRF cookie has the session cookie's scope (this site's), but scripts must read it.
  const setXsrfCookie = <E extends AuthEnv>(c: Context<E>, sessionToken: string) =>
    setCookie(c, config.xsrf_cookie_name, xsrfTokenFor(sessionToken), {
      ...sites.siteCookie(c).options,
      httpOnly: false,
      maxAge: config.session_max_age,
    });
  /** The session cookie's value whose hash is this session: the browser may send several. */
  const sessionToken = <E extends AuthEnv>(c: Context<E>, sessionId: string) =>
    cookieValues(c.req.header("cookie"), sites.siteCookie(c).name).find(
      (value) => hashToken(value) === sessionId,
    );
  return {
    ...services,
    prefix: config.auth_prefix,
    ...pageHelpers(services, sites, (rd) => validateRedirectTarget(rd, hostPolicy)),
    hostPolicy,
    meta: (c) => clientMeta(c, config.trusted_proxies),
    returnTarget: (c, fields) =>
      validateRedirectTarget(c.req.query("rd") ?? fields?.rd, hostPolicy),
    startSession(c, signedIn) {
      setCookie(c, config.session_cookie, signedIn.token, {
        ...cookieOptions,
        maxAge: config.session_max_age,
      });
      if (xsrf) setXsrfCookie(c, signedIn.token);
    },
    keepXsrfCookie(c, sessionId) {
      if (!xsrf) return;
      const token = sessionToken(c, sessionId);
      if (token) setXsrfCookie(c, token);
    },
    checkXsrf(c, sessionId) {
      if (!xsrf) return;
      const header = c.req.header(config.xsrf_header_name);
      const token = sessionToken(c, sessionId);
      const problem = !header
        ? "the XSRF header is missing: send the XSRF-TOKEN cookie's value in it"
        : !cookieValues(c.req.header("cookie"), config.xsrf_cookie_name).some((value) =>
              sameToken(value, header),
            )
          ? "the XSRF header does not match the XSRF cookie"
          : !token || !sameToken(header, xsrfTokenFor(token))
            ? "the XSRF token does not belong to this session: reload the page to get a new one"
            : null;
      if (problem) throw new ServiceError("xsrf", problem);
    },
    endSession(c) {
      const own = sites.siteCookie(c);
      deleteCookie(c, own.name, own.options);
      if (xsrf) deleteCookie(c, config.xsrf_cookie_name, { ...own.options, httpOnly: false });
    },
    ...sites,
  };
}

/** Bodiless posts (logout, revoke) answer JSON to API clients and redirect browsers. */
export function wantsJson<E extends AuthEnv>(c: Context<E>): boolean {
  return (
    (c.req.header("content-type") ?? "").includes("application/json") ||
    (c.req.header("accept") ?? "").includes("application/json")
  );
}

/** A field as text when it is text (to show a form again), else undefined. */
export function optionalString(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}
