// The one place configuration is read and validated. Every setting can come from
// the YAML file named by GATEHOUSE_CONFIG (lower-case keys) or from the
// environment (upper-case names); the environment wins. Every problem is
// reported at once, naming the setting.

import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { brandingSettings, brandNameProblems } from "./branding/settings.ts";
import { describeIssue } from "./config-issues.ts";
import { ConfigError } from "./kernel/config-error.ts";
import {
  type OAuthProviderConfig,
  oauthProviderSchema,
  withSecrets,
} from "./oauth/provider-config.ts";
import { passkeySettings, type RelyingParty, relyingParty } from "./passkeys/settings.ts";
import { type AccessRule, accessRuleSchema, IDENTITY_CLAIMS } from "./resolve/rules.ts";
import { parseCidrList } from "./security/trusted-proxies.ts";
import { bool, duration, integer, list } from "./settings-types.ts";
import { buildSiteTable, type SiteTable, siteSchema } from "./sites/sites.ts";
import { trustedIssuerSchema } from "./trusted-issuers/settings.ts";

export { ConfigError };

const publicUrl = z.string().transform((value, ctx) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({ code: "custom", message: `"${value}" is not a URL` });
    return z.NEVER;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    ctx.addIssue({ code: "custom", message: "must be an http or https URL" });
    return z.NEVER;
  }
  if (url.pathname !== "/" || url.search || url.hash || url.username || url.password) {
    ctx.addIssue({
      code: "custom",
      message: "must be an origin only, like https://auth.example.com",
    });
    return z.NEVER;
  }
  return url;
});

const hostPattern =
  /^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?$/;

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/i, "must be host:port");

// Loopback only: a proxy on another machine is named by the deployment. A
// private range would let any client on the LAN, a VPN or in the cluster
// write its own X-Forwarded-* headers and choose the address that per-IP
// limits and the audit log see.
const DEFAULT_TRUSTED_PROXIES = ["127.0.0.0/8", "::1/128"];

/** A PostgreSQL table or column name, optionally schema-qualified: quoted as an identifier when used. */
const sqlName = z
  .string()
  .regex(
    /^[A-Za-z_][A-Za-z0-9_$]{0,62}(\.[A-Za-z_][A-Za-z0-9_$]{0,62})?$/,
    "must be a name like users or auth.users",
  );
const sqlColumn = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/, "must be a column name like id or banned");

const settingsSchema = z
  .object({
    port: integer(4180, 0, 65535),
    host: z.string().min(1).default("127.0.0.1"),
    /** Defaults to http://localhost:PORT. */
    public_url: publicUrl.optional(),
    auth_prefix: z
      .string()
      .regex(/^\/[a-z0-9/_-]*[a-z0-9_-]$/i, "must start with / and not end with /")
      .default("/auth"),
    data_dir: z.string().min(1).default("./data"),
    database_url: z
      .string()
      .regex(/^postgres(ql)?:\/\//, "must start with postgres://")
      .optional(),
    redis_url: z
      .string()
      .regex(/^rediss?:\/\//, "must start with redis:// or rediss://")
      .optional(),
    /** Sentinel instead of REDIS_URL: host:port list and the monitored master's name. */
    redis_sentinels: list().pipe(z.array(hostPort)),
    redis_sentinel_name: z.string().min(1).default("mymaster"),
    /** Cluster instead of REDIS_URL: seed nodes. */
    redis_cluster_nodes: list().pipe(z.array(hostPort)),
    redis_password: z.string().optional(),
    /** Every Redis command fails after this many milliseconds; the request then falls back to SQL. */
    redis_command_timeout_ms: integer(100, 5, 10_000),
    /** How long a session read from SQL stays in Redis for the other replicas. */
    redis_cache_ttl: duration("60s"),
    redis_key_prefix: z
      .string()
      .regex(/^[A-Za-z0-9:_-]{1,40}$/, "letters, digits, :, _ and - only")
      .default("gatehouse:"),
    trusted_proxies: list(DEFAULT_TRUSTED_PROXIES).transform((items, ctx) => {
      try {
        return parseCidrList(items);
      } catch (error) {
        ctx.addIssue({ code: "custom", message: (error as Error).message });
        return z.NEVER;
      }
    }),
    cookie_name: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, "letters, digits, _ and - only")
      .default("gatehouse_session"),
    /**
     * Answer 200 with a Cookie header: the request's cookies without
     * gatehouse's session cookie, for proxies that copy answer headers onto
     * the forwarded request (Traefik's authResponseHeaders) and cannot edit
     * a Cookie header themselves.
     */
    forward_cookie_header: bool(false),
    /** Check the signed double-submit XSRF token of cookie-authenticated unsafe requests (rules may say xsrf: true/false). */
    xsrf_protection: bool(false),
    /** Angular's HttpClient and axios read this cookie... */
    xsrf_cookie_name: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, "letters, digits, _ and - only")
      .default("XSRF-TOKEN"),
    /** ...and send its value in this header. */
    xsrf_header_name: z
      .string()
      .regex(/^[A-Za-z0-9-]{1,64}$/, "a header name")
      .transform((value) => value.toLowerCase())
      .default("x-xsrf-token"),
    cookie_domain: z
      .string()
      .transform((value) => value.trim().toLowerCase().replace(/^\./, ""))
      .pipe(z.string().regex(hostPattern, "must be a domain like example.com"))
      .optional(),
    allowed_redirect_hosts: list().pipe(
      z.array(
        z
          .string()
          .transform((value) => value.toLowerCase())
          .pipe(z.string().regex(hostPattern, "must be a host or *.example.com")),
      ),
    ),
    default_redirect: z.string().optional(),
    session_idle_timeout: duration("7d"),
    session_max_age: duration("30d"),
    session_cache_ttl: duration("5s"),
    session_cache_max: integer(100_000, 0, 10_000_000),
    auth_cache_seconds: integer(0, 0, 3600),
    registration_enabled: bool(true),
    /** Users with this role reach the admin console under AUTH_PREFIX/admin. */
    admin_role: z
      .string()
      .regex(/^[A-Za-z0-9._:-]{1,64}$/, "must be a role name (letters, digits, . _ : -)")
      .default("admin"),
    /** The first account that proves this address (verified) becomes an admin. */
    initial_admin_email: z.string().trim().min(3).max(254).optional(),
    /** Who may create an account: open, domains (REGISTRATION_DOMAINS), invite, closed; unset: REGISTRATION_ENABLED decides (open or closed). */
    registration_mode: z.enum(["open", "domains", "invite", "closed"]).optional(),
    /** For REGISTRATION_MODE=domains: example.com (exactly) or *.example.com (its subdomains). */
    registration_domains: list().pipe(
      z.array(
        z
          .string()
          .transform((value) => value.toLowerCase())
          .pipe(
            z
              .string()
              .regex(
                /^(\*\.)?[^\s@*/:]+\.[^\s@*/:]+$/,
                "must be a domain like example.com or *.example.com",
              ),
          ),
      ),
    ),
    /** How long an invitation's link works. */
    invitation_ttl: duration("7d").pipe(z.number().min(300, "must be at least 5m")),
    /** Audit events older than this are deleted in the background; 0 keeps them for ever. */
    audit_retention: duration("365d"),
    /** Also write every audit event to the structured log (for shipping to a SIEM). */
    audit_log: bool(false),
    // One core is left to the event loop, so a login storm cannot starve /_resolve.
    password_hash_concurrency: integer(Math.max(1, availableParallelism() - 1), 1, 256),
    password_hash_queue: integer(availableParallelism() * 4, 0, 10_000),
    login_max_failures_per_account: integer(10, 1, 10_000),
    login_max_failures_per_ip: integer(50, 1, 100_000),
    login_failure_window: duration("15m"),
    /** Mail goes out through this server (smtp:// or smtps://); without it, to the log and OUTBOX_DIR. */
    smtp_url: z
      .string()
      .regex(/^smtps?:\/\//, "must start with smtp:// or smtps://")
      .optional(),
    /** The From header; defaults to "SITE_NAME <no-reply@host of PUBLIC_URL>". */
    smtp_from: z.string().min(3).optional(),
    /** Refuse to send over a plain connection: STARTTLS must succeed (smtp:// only). */
    smtp_require_tls: bool(false),
    /** Checks the SMTP server's certificate; turn off only for a server with a self-signed one. */
    smtp_tls_reject_unauthorized: bool(true),
    /** Where messages are written when SMTP_URL is not set. Defaults to DATA_DIR/outbox. */
    outbox_dir: z.string().min(1).optional(),
    /** A folder of templates overriding the built-in ones (<kind>.subject, <kind>.txt, <kind>.html). */
    email_templates_dir: z.string().min(1).optional(),
    email_verification_ttl: duration("24h"),
    password_reset_ttl: duration("30m"),
    /** Registration signs the new account in at once; when false it answers "check your email" for new and existing addresses alike. */
    registration_sign_in: bool(true),
    assertion_ttl: duration("60s"),
    /** How long a client may take to send a request's whole body (at most 16 KiB) before a 408. */
    body_timeout: duration("10s").pipe(z.number().min(1, "must be at least 1s")),
    /** On SIGTERM: how long /readyz fails while requests are still served, before the listener closes. */
    shutdown_drain: duration("0s"),
    log_level: z
      .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
      .default("info"),
    default_access: z.enum(["public", "authenticated", "deny"]).default("authenticated"),
    rules: z.array(accessRuleSchema).default([]),
    trusted_issuers: z.array(trustedIssuerSchema).default([]),
    oauth_providers: z.array(oauthProviderSchema).default([]),
    /** How long a provider may take to answer a sign-in's calls before it ends on an error page. */
    oauth_timeout: duration("10s"),
    /** Keys (base64url, 32 bytes) that encrypt provider tokens at rest; the first encrypts, all decrypt. */
    token_encryption_keys: list().pipe(
      z.array(
        z
          .string()
          .regex(/^[A-Za-z0-9_-]{43}$/, "each key must be 32 bytes in base64url (43 characters)"),
      ),
    ),
    identity_headers: list([...IDENTITY_CLAIMS]).pipe(z.array(z.enum(IDENTITY_CLAIMS))),
    header_prefix: z
      .string()
      .regex(/^[a-z0-9-]+$/, "lower-case letters, digits and - only")
      .default("x-auth-"),
    site_name: z.string().min(1).max(100).default("gatehouse"),
    /** The pages' and mails' language when neither the visitor's choice nor Accept-Language names one we have. */
    default_locale: z
      .string()
      .regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, "must be a language tag such as en or de-CH")
      .default("en"),
    /** A folder of message catalogues (<locale>/<area>.json) adding languages or replacing single strings. */
    locales_dir: z.string().min(1).optional(),
    /** The sites one sign-in reaches (sites/sites.ts); PUBLIC_URL's is the home, the others satellites. */
    sites: z.array(siteSchema).default([]),
    /** Auth.js sessions (credentials/authjs.ts): the app's AUTH_SECRET, newest first; unset: off. */
    authjs_secret: list(),
    /** One cookie name instead of Auth.js's four defaults (v5's and v4's, plain and __Secure-). */
    authjs_cookie_name: z
      .string()
      .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$/, "must be a cookie name")
      .optional(),
    /** Which Auth.js token format the cookies hold: v5 (@auth/core), v4 (next-auth 4), or auto (by cookie name). */
    authjs_token_format: z.enum(["auto", "v5", "v4"]).default("auto"),
    /** A claim holding the user's roles (a string or a list of strings). */
    authjs_roles_claim: z.string().min(1).max(200).optional(),
    /** Tokens issued longer ago than this are refused, whatever their expiry says. */
    authjs_max_age: duration("30d").pipe(z.number().min(60, "must be at least 60s")),
    /** Check the user still exists (and is not disabled) in the app's PostgreSQL. */
    authjs_user_check: bool(false),
    authjs_database_url: z
      .string()
      .regex(/^postgres(ql)?:\/\//, "must start with postgres://")
      .optional(),
    /** The Auth.js adapter's users table; unset: `users` (pg adapter) or `user` (drizzle adapter), whichever exists. */
    authjs_user_table: sqlName.optional(),
    authjs_user_id_column: sqlColumn.default("id"),
    /** A column that refuses the user when it is neither NULL nor false (a flag or a timestamp). */
    authjs_user_disabled_column: sqlColumn.optional(),
    /** How long a user check's answer is kept (in memory and Redis): the revocation bound. */
    authjs_user_cache_ttl: duration("60s").pipe(z.number().min(1, "must be at least 1s")),
    /** Users with one of these roles must set up a second factor before anything protected resolves. */
    mfa_required_roles: list(),
    /** Development only: requests without a credential resolve as this user (an id or an email). */
    dev_bypass_user: z.string().trim().min(1).max(254).optional(),
    /** The bypass user's roles; default: the gatehouse account's, or none. */
    dev_bypass_roles: list(),
    ...passkeySettings,
    ...brandingSettings,
  })
  .strict();

export const configSchema = settingsSchema.superRefine((config, ctx) => {
  if (config.session_idle_timeout < 60) {
    ctx.addIssue({
      code: "custom",
      path: ["session_idle_timeout"],
      message: "must be at least 60s",
    });
  }
  const redisModes = [
    config.redis_url,
    config.redis_sentinels.length > 0,
    config.redis_cluster_nodes.length > 0,
  ].filter(Boolean).length;
  if (redisModes > 1) {
    ctx.addIssue({
      code: "custom",
      path: ["redis_url"],
      message: "give one of REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES",
    });
  }
  if (config.session_max_age < config.session_idle_timeout) {
    ctx.addIssue({
      code: "custom",
      path: ["session_max_age"],
      message: "must be at least SESSION_IDLE_TIMEOUT",
    });
  }
  const authjsSettings = [
    config.authjs_cookie_name && "AUTHJS_COOKIE_NAME",
    config.authjs_roles_claim && "AUTHJS_ROLES_CLAIM",
    config.authjs_user_check && "AUTHJS_USER_CHECK",
    config.authjs_database_url && "AUTHJS_DATABASE_URL",
  ].filter(Boolean);
  if (config.authjs_secret.length === 0 && authjsSettings.length > 0) {
    ctx.addIssue({
      code: "custom",
      path: ["authjs_secret"],
      message: `${authjsSettings.join(", ")} need${authjsSettings.length === 1 ? "s" : ""} the Auth.js app's secret here`,
    });
  }
  if (config.authjs_user_check && !config.authjs_database_url) {
    ctx.addIssue({
      code: "custom",
      path: ["authjs_database_url"],
      message: "AUTHJS_USER_CHECK needs the Auth.js app's database (postgres://...)",
    });
  }
  if (config.registration_mode === "domains" && config.registration_domains.length === 0) {
    ctx.addIssue({
      code: "custom",
      path: ["registration_domains"],
      message: "REGISTRATION_MODE=domains needs at least one domain",
    });
  }
  if (config.dev_bypass_roles.length > 0 && !config.dev_bypass_user) {
    ctx.addIssue({
      code: "custom",
      path: ["dev_bypass_roles"],
      message: "only makes sense with DEV_BYPASS_USER",
    });
  }
});

/** Settings that are lists of mappings: given in the environment as YAML (or JSON) text. */
const STRUCTURED_KEYS = new Set(["rules", "trusted_issuers", "oauth_providers", "sites", "brands"]);

type ParsedConfig = z.output<typeof configSchema>;

export type Config = Omit<
  ParsedConfig,
  | "rules"
  | "default_redirect"
  | "public_url"
  | "smtp_from"
  | "outbox_dir"
  | "oauth_providers"
  | "sites"
> & {
  /** Empty `sites` when SITES is not set: one site, as before. */
  sites: SiteTable;
  oauth_providers: OAuthProviderConfig[];
  public_url: URL;
  smtp_from: string;
  outbox_dir: string;
  rules: AccessRule[];
  /** Where a browser lands after login when no valid `rd` was given. */
  default_redirect: string;
  /** True when PUBLIC_URL is https: cookies get Secure and a __Host-/__Secure- prefix. */
  secure_cookies: boolean;
  /** The session cookie's name, with its prefix. */
  session_cookie: string;
  login_url: string;
  /** Passkeys' relying party (passkeys/settings.ts); null when passkeys cannot work here. */
  webauthn: RelyingParty | null;
};

/** True when some rule checks XSRF tokens: sessions then carry theirs. */
export function xsrfInUse(config: Pick<Config, "xsrf_protection" | "rules">): boolean {
  return config.xsrf_protection || config.rules.some((rule) => rule.requirement.xsrf === true);
}

/**
 * Settings that are valid but probably not meant: printed by check-config and
 * logged at start.
 */
export function configWarnings(config: Config): string[] {
  const warnings: string[] = [];
  for (const [range, bits] of config.trusted_proxies) {
    const loopback = range.range() === "loopback";
    const broad = range.kind() === "ipv4" ? bits < 16 : bits < 64;
    if (broad && !loopback)
      warnings.push(
        `TRUSTED_PROXIES: ${range.toString()}/${bits} is a broad range; every client in it can choose its own address and forwarded URL. Name your proxies' addresses or their narrowest range.`,
      );
  }
  if (config.dev_bypass_user) {
    const loopback = ["127.0.0.1", "::1", "localhost"].includes(config.host);
    warnings.push(
      `DEV_BYPASS_USER: every request without a credential resolves as ${config.dev_bypass_user}${loopback ? "" : `, and gatehouse listens on ${config.host}, beyond this machine`}. Development only: never set it where real users are.`,
    );
  }
  if (config.sites.sites.length > 0 && config.allowed_redirect_hosts.length > 0)
    warnings.push(
      `ALLOWED_REDIRECT_HOSTS with SITES: every configured site is already a redirect target, and a host outside SITES gets a 403 from /_resolve (${config.allowed_redirect_hosts.join(", ")}). Name each domain in SITES instead.`,
    );
  if (config.authjs_secret.some((secret) => secret.length < 32))
    warnings.push(
      "AUTHJS_SECRET: a secret shorter than 32 characters; Auth.js suggests `npx auth secret` (32 random bytes).",
    );
  if (config.authjs_secret.length > 0 && !config.authjs_user_check)
    warnings.push(
      `AUTHJS_USER_CHECK is off: a user deleted from the Auth.js app keeps resolving until the token expires (at most AUTHJS_MAX_AGE, ${config.authjs_max_age}s).`,
    );
  const passkeys = passkeyParty(config).warning;
  if (passkeys) warnings.push(passkeys);
  return warnings;
}

function passkeyParty(
  parsed: Omit<Parameters<typeof relyingParty>[0], "public_url"> & {
    public_url?: URL | undefined;
    port: number;
  },
) {
  return relyingParty({
    ...parsed,
    public_url: parsed.public_url ?? new URL(`http://localhost:${parsed.port}`),
  });
}

/** Reads the environment (and the YAML file it names), validates everything, and throws ConfigError listing every problem. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const problems: string[] = [];
  let raw: Record<string, unknown> = {};
  const file = env.GATEHOUSE_CONFIG;
  if (file) {
    try {
      const parsed = parseYaml(readFileSync(file, "utf8")) ?? {};
      if (typeof parsed !== "object" || Array.isArray(parsed)) {
        problems.push(`GATEHOUSE_CONFIG: ${file} must hold a YAML mapping`);
      } else {
        raw = { ...(parsed as Record<string, unknown>) };
      }
    } catch (error) {
      problems.push(`GATEHOUSE_CONFIG: cannot read ${file}: ${(error as Error).message}`);
    }
  }
  for (const key of Object.keys(settingsSchema.shape)) {
    const value = env[key.toUpperCase()];
    if (value === undefined || value === "") continue;
    if (!STRUCTURED_KEYS.has(key)) {
      raw[key] = value;
      continue;
    }
    try {
      raw[key] = parseYaml(value);
    } catch (error) {
      problems.push(`${key.toUpperCase()}: not valid YAML: ${(error as Error).message}`);
    }
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues)
      problems.push(...describeIssue(issue, raw, configSchema));
  }
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);
  const oauth = withSecrets(result.data.oauth_providers, env);
  problems.push(...oauth.problems);
  const providerIds = new Set(result.data.oauth_providers.map((provider) => provider.id));
  for (const rule of result.data.rules) {
    const wanted = rule.requirement.access === "authenticated" && rule.requirement.upstreamToken;
    if (wanted && !providerIds.has(wanted.provider))
      problems.push(
        `RULES: upstream_token names the provider "${wanted.provider}", which OAUTH_PROVIDERS does not have`,
      );
  }
  if (result.data.dev_bypass_user) {
    // The development bypass names a user without any credential: never where real users are.
    if (env.NODE_ENV === "production")
      problems.push("DEV_BYPASS_USER: refused with NODE_ENV=production (development only)");
    if ((result.data.public_url?.protocol ?? "http:") === "https:")
      problems.push("DEV_BYPASS_USER: refused with an https PUBLIC_URL (development only)");
  }
  problems.push(...passkeyParty(result.data).problems);
  const public_url = result.data.public_url ?? new URL(`http://localhost:${result.data.port}`);
  const sites = buildSiteTable(result.data.sites, public_url, result.data.cookie_domain);
  if ("problems" in sites) problems.push(...sites.problems);
  problems.push(...brandNameProblems(result.data.sites, result.data.brands));
  if (problems.length > 0 || "problems" in sites) throw new ConfigError(problems);
  // REGISTRATION_MODE wins over REGISTRATION_ENABLED; after this, registration_enabled means
  // "the registration form is offered" (open or domains) and registration_mode is always set.
  const registrationMode =
    result.data.registration_mode ?? (result.data.registration_enabled ? "open" : "closed");
  return finishConfig(
    {
      ...result.data,
      registration_mode: registrationMode,
      registration_enabled: registrationMode === "open" || registrationMode === "domains",
      oauth_providers: oauth.providers,
      public_url,
    },
    sites.table,
  );
}

function finishConfig(
  parsed: Omit<ParsedConfig, "oauth_providers" | "sites" | "public_url"> & {
    oauth_providers: OAuthProviderConfig[];
    public_url: URL;
  },
  sites: SiteTable,
): Config {
  const public_url = parsed.public_url;
  const secure = public_url.protocol === "https:";
  const prefix = !secure ? "" : parsed.cookie_domain ? "__Secure-" : "__Host-";
  const origin = public_url.origin;
  return {
    ...parsed,
    webauthn: passkeyParty(parsed).party,
    public_url,
    sites,
    rules: parsed.rules,
    // The account page always exists; PUBLIC_URL's / may be gatehouse's own 404.
    default_redirect: parsed.default_redirect ?? `${origin}${parsed.auth_prefix}/account`,
    smtp_from:
      parsed.smtp_from ??
      `"${parsed.site_name.replaceAll('"', "")}" <no-reply@${public_url.hostname}>`,
    outbox_dir: parsed.outbox_dir ?? join(parsed.data_dir, "outbox"),
    secure_cookies: secure,
    session_cookie: `${prefix}${parsed.cookie_name}`,
    login_url: `${origin}${parsed.auth_prefix}/login`,
  };
}
