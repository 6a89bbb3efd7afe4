// What every route file under AUTH_PREFIX shares: the context's typed
// variables, the services they call, and the small per-request helpers
// (client address, return target, the session cookie). Built once by
// routes.ts and handed to each concern's sub-app.
import type { Context } from "hono";
import type { UserAdmin } from "../../accounts/admin.ts";
import type { Audit, AuditReader } from "../../accounts/audit.ts";
import type { UserDirectory } from "../../accounts/directory.ts";
import type { EmailFlows } from "../../accounts/email-flows.ts";
import type { Invitations } from "../../accounts/invitations.ts";
import type { OwnSessions } from "../../accounts/own-sessions.ts";
import type { AccountService, ClientMeta } from "../../accounts/service.ts";
import type { UserLocales } from "../../accounts/user-locale.ts";
import type { ApiKeyService } from "../../api-keys/service.ts";
import type { Brand, Brands } from "../../branding/brands.ts";
import type { Config } from "../../config.ts";
import type { ServiceError } from "../../errors.ts";
import type { Languages } from "../../i18n/languages.ts";
import type { PendingSignIns } from "../../mfa/pending.ts";
import type { SecondFactors } from "../../mfa/service.ts";
import type { OAuthService } from "../../oauth/service.ts";
import type { PasskeyService } from "../../passkeys/service.ts";
import { type HostPolicy, validateRedirectTarget } from "../../security/redirect-target.ts";
import type { SessionService } from "../../sessions/service.ts";
import type { ResolvedSession } from "../../sessions/store.ts";
import type { HopCodes } from "../../sites/hop-codes.ts";
import { type AppEnv, clientMeta } from "../context.ts";
import type { Content, PageContext } from "../pages/layout.ts";
import { pageHelpers } from "./page-context.ts";
import { type SessionCookies, sessionCookies } from "./session-cookies.ts";
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
  SiteHelpers &
  SessionCookies & {
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
  return {
    ...services,
    prefix: config.auth_prefix,
    ...pageHelpers(services, sites, (rd) => validateRedirectTarget(rd, hostPolicy)),
    hostPolicy,
    meta: (c) => clientMeta(c, config.trusted_proxies),
    returnTarget: (c, fields) =>
      validateRedirectTarget(c.req.query("rd") ?? fields?.rd, hostPolicy),
    ...sessionCookies(config, cookieOptions, sites),
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
