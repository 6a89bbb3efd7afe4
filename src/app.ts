// Builds gatehouse from its dependencies: the stores are opened by the caller
// (main.ts, or a test), everything else is wired here, once.
import type { IncomingMessage, ServerResponse } from "node:http";
import { Hono } from "hono";
import { requestId } from "hono/request-id";
import { createUserAdmin, type UserAdmin } from "./accounts/admin.ts";
import {
  type Audit,
  type AuditReader,
  auditReader,
  sqlAudit,
  startAuditRetention,
} from "./accounts/audit.ts";
import { type UserDirectory, userDirectory } from "./accounts/directory.ts";
import { createEmailFlows, type EmailFlows } from "./accounts/email-flows.ts";
import { initialAdmin } from "./accounts/initial-admin.ts";
import { createInvitations, type Invitations } from "./accounts/invitations.ts";
import { emailTokenStore } from "./accounts/link-tokens.ts";
import {
  createLoginThrottle,
  type LoginThrottle,
  loginThrottle,
  rateLimiter,
} from "./accounts/login-throttle.ts";
import { createOwnSessions } from "./accounts/own-sessions.ts";
import { createPasswordHasher } from "./accounts/passwords.ts";
import { registrationMode, registrationPolicy } from "./accounts/registration-policy.ts";
import { type AccountService, createAccountService, type SecondStep } from "./accounts/service.ts";
import { userLocales } from "./accounts/user-locale.ts";
import { type ApiKeyService, createApiKeyService } from "./api-keys/service.ts";
import { loadBrands, mailColors } from "./branding/brands.ts";
import { type Config, xsrfInUse } from "./config.ts";
import { apiKeyStrategy } from "./credentials/api-key.ts";
import { authjsFromConfig } from "./credentials/authjs.ts";
import { devBypassFromConfig } from "./credentials/dev-bypass.ts";
import { sessionCookieStrategy } from "./credentials/session-cookie.ts";
import type { CredentialStrategy } from "./credentials/strategy.ts";
import { trustedJwtStrategy } from "./credentials/trusted-jwt.ts";
import type { DatabaseHandle } from "./db/client.ts";
import { isStoreUnavailable } from "./db/unavailable.ts";
import { authRoutes } from "./http/auth/routes.ts";
import type { AppEnv } from "./http/context.ts";
import { errorBody, jsonErrors } from "./http/error-response.ts";
import { passwordLoadShedder } from "./http/load-shedding.ts";
import { createResolveHandler, type ResolveHandler } from "./http/resolve-handler.ts";
import { loadLanguages } from "./i18n/languages.ts";
import type { Logger } from "./logger.ts";
import { createMailer, type Mailer } from "./mail/mailer.ts";
import { loadTemplates } from "./mail/templates.ts";
import { createMetrics, type Metrics } from "./metrics.ts";
import { factorChangeNotice } from "./mfa/notice.ts";
import { createPendingSignIns } from "./mfa/pending.ts";
import { createSecondFactors, type SecondFactors } from "./mfa/service.ts";
import { logoutReplay } from "./oauth/logout-replay.ts";
import { buildProvider } from "./oauth/provider.ts";
import { createOAuthService, type OAuthService, UpstreamTokenError } from "./oauth/service.ts";
import { loadTokenVault } from "./oauth/token-vault.ts";
import { createPasskeyService, type PasskeyService } from "./passkeys/service.ts";
import { redisLock, type SharedRedis } from "./redis/client.ts";
import { REVOKED_CHANNEL, type RevokedMessage } from "./redis/revocations.ts";
import type { UpstreamTokenResult } from "./resolve/decide.ts";
import { redisCachedSessionStore } from "./sessions/redis-cache.ts";
import {
  type Clock,
  createSessionService,
  type SessionService,
  systemClock,
} from "./sessions/service.ts";
import { sqlSessionStore } from "./sessions/store.ts";
import { createAssertionSigner } from "./signing-keys/assertions.ts";
import { type KeyRing, loadKeyRing } from "./signing-keys/key-ring.ts";
import { sessionCookieNames, siteCookieName } from "./sites/cookies.ts";
import { hopCodeStore } from "./sites/hop-codes.ts";
import { createJwtVerifier } from "./trusted-issuers/verifier.ts";

export type Gatehouse = {
  /** Everything but /_resolve. */
  app: Hono<AppEnv>;
  /** /_resolve, served on node:http without the framework (server.ts routes it). */
  resolve: ResolveHandler;
  /** Answers password work that would be refused anyway before the framework sees it; true when it did. */
  shed: (req: IncomingMessage, res: ServerResponse) => boolean;
  config: Config;
  database: DatabaseHandle;
  sessions: SessionService;
  accounts: AccountService;
  apiKeys: ApiKeyService;
  /** Disable and enable accounts (the CLI's `users disable|enable`). */
  users: UserAdmin;
  /** Second factors (TOTP, recovery codes): the CLI lists and resets them. */
  factors: SecondFactors;
  directory: UserDirectory;
  audits: AuditReader;
  invitations: Invitations;
  /** Writes an audit event (in the background). */
  audit: Audit;
  emailFlows: EmailFlows;
  mailer: Mailer;
  oauth: OAuthService;
  /** Null when passkeys cannot work with these settings (config.webauthn). */
  passkeys: PasskeyService | null;
  metrics: Metrics;
  /** Re-reads signing keys (after a rotation); also done every KEY_RELOAD_MS. */
  reloadKeys(): Promise<void>;
  /** Stops background timers. */
  close(): void;
  /** Set while shutting down: /readyz answers 503 so the proxy stops sending new work. */
  draining: { value: boolean };
};

const KEY_RELOAD_MS = 30_000;

export type GatehouseOptions = {
  config: Config;
  database: DatabaseHandle;
  logger: Logger;
  clock?: Clock;
  throttle?: LoginThrottle;
  /** Shared cache, revocation messages and rate-limit counters; null or absent: this process alone. */
  redis?: SharedRedis | null;
  defaultMetrics?: boolean;
};

export async function createGatehouse(options: GatehouseOptions): Promise<Gatehouse> {
  const { config, database, logger } = options;
  const clock = options.clock ?? systemClock;
  const logError = (error: unknown, context: string) =>
    logger.error({ err: error, context }, `${context} failed`);
  const metrics = createMetrics({ defaultMetrics: options.defaultMetrics ?? false });
  // The first account proving INITIAL_ADMIN_EMAIL becomes an admin (accounts/initial-admin.ts).
  const firstAdmin = initialAdmin({
    db: database.db,
    config,
    logError,
    refreshUser: (userId) => sessions.refreshUser(userId),
  });
  const written: Audit = sqlAudit(
    database.db,
    (error) => logError(error, "audit write"),
    config.audit_log ? (event) => logger.info({ audit: event }, "audit event") : undefined,
    () => clock.now(),
  );
  const audit: Audit = (type, event) => {
    written(type, event);
    firstAdmin.seen(type, event.userId, (promoted) => written("user.roles_changed", promoted));
  };
  const audits = auditReader(database.db);
  const stopRetention = startAuditRetention({
    reader: audits,
    retentionSeconds: config.audit_retention,
    now: () => clock.now(),
    onError: (error) => logError(error, "audit retention"),
    onDeleted: (count) => {
      if (count > 0) logger.info({ count }, "audit events past AUDIT_RETENTION deleted");
    },
  });

  const redis = options.redis ?? null;
  const publishRevoked = (message: RevokedMessage) =>
    redis?.publish(REVOKED_CHANNEL, JSON.stringify(message));
  const sqlStore = sqlSessionStore(database.db);
  const sessions = createSessionService({
    store: redis
      ? redisCachedSessionStore(sqlStore, redis, {
          ttlSeconds: config.redis_cache_ttl,
          now: () => clock.now(),
          onError: (error) => logError(error, "redis session cache"),
        })
      : sqlStore,
    onForgotten: (ids) => publishRevoked({ sessions: ids }),
    clock,
    idleTimeoutSeconds: config.session_idle_timeout,
    maxAgeSeconds: config.session_max_age,
    cacheTtlSeconds: config.session_cache_ttl,
    cacheMax: config.session_cache_max,
    onBackgroundError: (error) => logError(error, "session renewal"),
  });
  const hasher = await createPasswordHasher({
    concurrency: config.password_hash_concurrency,
    queue: config.password_hash_queue,
  });
  const brands = loadBrands(config);
  const languages = loadLanguages(config);
  const locales = userLocales(database.db);
  const mailer = createMailer({
    settings: config,
    templates: loadTemplates(config.email_templates_dir, mailColors(config)),
    languages: { ...languages, storedLocale: locales.ofAddress },
    logger,
    onResult: (kind, outcome) => metrics.emails.inc({ kind, outcome }),
  });
  const hour = 3600;
  const emailFlows = createEmailFlows({
    db: database.db,
    hasher,
    sessions,
    tokens: emailTokenStore(database.db),
    mailer,
    audit,
    clock,
    limits: {
      verificationResends: rateLimiter(redis, {
        keyPrefix: "mail_verify",
        points: 3,
        duration: hour,
      }),
      resetsPerAddress: rateLimiter(redis, {
        keyPrefix: "mail_address",
        points: 3,
        duration: hour,
      }),
      // One "already registered" notice per address and hour, on a budget of its own.
      noticesPerAddress: rateLimiter(redis, {
        keyPrefix: "mail_notice",
        points: 1,
        duration: hour,
      }),
      perIp: rateLimiter(redis, { keyPrefix: "mail_ip", points: 30, duration: hour }),
    },
    linkBase: `${config.public_url.origin}${config.auth_prefix}`,
    // Called after startup, once the key and provider services below exist.
    dropCached: {
      apiKeys: (hashes) => apiKeys.dropped(hashes),
      providerTokens: (userId, providerIds) => oauth.dropTokens(userId, providerIds),
    },
    providerName: (id) => oauth.list().find((provider) => provider.id === id)?.displayName ?? id,
    verificationTtlSeconds: config.email_verification_ttl,
    resetTtlSeconds: config.password_reset_ttl,
    logError,
  });
  const pendingSignIns = createPendingSignIns({ db: database.db, clock, sessions, audit });
  /** A sign-in (password or provider) on an account with a second factor is half done until it is proven. */
  const secondStep: SecondStep = async (start) =>
    (await factors.enrolled(start.user.id))
      ? pendingSignIns.create({
          userId: start.user.id,
          method: start.method,
          amr: start.amr,
          guard: start.guard,
          returnTo: null,
          providerSession: start.providerSession ?? null,
        })
      : null;
  const mode = registrationMode(config);
  const invitations = createInvitations({
    db: database.db,
    hasher,
    sessions,
    mail: (kind, to, values, locale) => mailer.post(kind, to, values, locale),
    audit,
    clock,
    linkBase: `${config.public_url.origin}${config.auth_prefix}`,
    ttlSeconds: config.invitation_ttl,
    open: mode !== "closed",
  });
  const registration = registrationPolicy({
    mode,
    domains: config.registration_domains,
    invited: (email) => invitations.invited(email),
  });
  const accounts = createAccountService({
    secondStep,
    db: database.db,
    hasher,
    sessions,
    audit,
    notify: emailFlows.notifications,
    throttle:
      options.throttle ??
      loginThrottle(redis, {
        maxPerAccount: config.login_max_failures_per_account,
        maxPerIp: config.login_max_failures_per_ip,
        windowSeconds: config.login_failure_window,
      }),
    registrationEnabled: registration.selfService,
    checkAddress: (email) => registration.checkSelfService(email),
    registrationSignsIn: config.registration_sign_in,
    passwordNeedsVerifiedAddress: mode === "domains",
    onLogin: (result) => metrics.logins.inc({ result }),
  });

  const apiKeys = createApiKeyService({
    db: database.db,
    clock,
    cacheTtlSeconds: config.session_cache_ttl,
    cacheMax: config.session_cache_max,
    onBackgroundError: (error) => logError(error, "API key last-use update"),
    onRevoked: (hashes) => publishRevoked({ apiKeys: hashes }),
  });
  const userAdmin = createUserAdmin({
    db: database.db,
    sessions,
    dropKeys: (hashes) => apiKeys.dropped(hashes),
    dropProviderTokens: (userId, providers) => oauth.dropTokens(userId, providers),
    clock,
    audit,
  });
  const directory = userDirectory(database.db);
  // Single sign-out: what any replica revokes, every replica forgets at once.
  redis?.subscribe(REVOKED_CHANNEL, (text) => {
    try {
      const message = JSON.parse(text) as RevokedMessage;
      if (Array.isArray(message.sessions)) sessions.forget(message.sessions.map(String));
      for (const hash of message.apiKeys ?? []) apiKeys.forget(String(hash));
      if (Array.isArray(message.providerTokens))
        oauth.forgetTokens(message.providerTokens.map(String));
    } catch (error) {
      logError(error, "revocation message");
    }
  });
  const vault = await loadTokenVault(database.db, config.token_encryption_keys);
  const oauth = createOAuthService({
    db: database.db,
    providers: config.oauth_providers.map((provider) =>
      buildProvider(provider, {
        redirectUri: `${config.public_url.origin}${config.auth_prefix}/oauth/${provider.id}/callback`,
        clock,
        timeoutMs: config.oauth_timeout * 1000,
      }),
    ),
    vault,
    sessions,
    audit,
    clock,
    // Invitations and REGISTRATION_MODE decide in the gate; only "closed" refuses every provider sign-up.
    registrationEnabled: mode !== "closed",
    registrationGate: {
      refuse: (email, verified) => registration.refuseProvider(email, verified),
      registered: (userId, email, verified, meta) =>
        invitations.providerRegistered(userId, email, verified, meta),
    },
    refreshTimeoutMs: config.oauth_timeout * 1000,
    onTokensForgotten: (keys) => publishRevoked({ providerTokens: keys }),
    logoutReplay: logoutReplay(database.db, redis),
    logoutLandingUrl: (id) =>
      `${config.public_url.origin}${config.auth_prefix}/oauth/${id}/logged-out`,
    secondStep,
    ...(redis ? { refreshLock: redisLock(redis) } : {}),
  });
  const factors: SecondFactors = createSecondFactors({
    db: database.db,
    vault,
    clock,
    // Counted per account and address like passwords, on counters of their own.
    throttle: createLoginThrottle({
      perAccount: rateLimiter(redis, {
        keyPrefix: "mfa_acct",
        points: config.login_max_failures_per_account,
        duration: config.login_failure_window,
      }),
      perIp: rateLimiter(redis, {
        keyPrefix: "mfa_ip",
        points: config.login_max_failures_per_ip,
        duration: config.login_failure_window,
      }),
    }),
    audit,
    sessions,
    pending: pendingSignIns,
    notify: factorChangeNotice(mailer, `${config.public_url.origin}${config.auth_prefix}/account`),
    issuer: config.site_name,
    passkeysUsable: config.webauthn !== null,
    onResult: (kind, result) => metrics.secondFactors.inc({ kind, result }),
  });
  const passkeys = config.webauthn
    ? createPasskeyService({
        db: database.db,
        party: config.webauthn,
        sessions,
        audit,
        mailer,
        accountLink: `${config.public_url.origin}${config.auth_prefix}/account`,
        ceremoniesPerIp: rateLimiter(redis, { keyPrefix: "passkey_ip", points: 120, duration: 60 }),
        clock,
      })
    : null;
  const jwts = createJwtVerifier({
    issuers: config.trusted_issuers,
    clock,
    onResult: (result) => metrics.bearerTokens.inc({ result }),
  });

  let keys: KeyRing = await loadKeyRing(database.db);
  const reloadKeys = async () => {
    keys = await loadKeyRing(database.db);
  };
  // A rotation by the CLI or another replica reaches this one within KEY_RELOAD_MS.
  const keyReload = setInterval(() => {
    reloadKeys().catch((error) => logError(error, "signing key reload"));
  }, KEY_RELOAD_MS);
  keyReload.unref();
  const signer = createAssertionSigner({
    keys: () => keys,
    issuer: config.public_url.origin,
    ttlSeconds: config.assertion_ttl,
    clock,
  });

  const draining = { value: false };
  const authjs = authjsFromConfig({ config, clock, registry: metrics.registry, redis });
  const bypass = devBypassFromConfig({
    config,
    db: database.db,
    clock,
    registry: metrics.registry,
    logger,
  });
  const bearers = [apiKeyStrategy(apiKeys), trustedJwtStrategy(jwts)];
  const sessionStrategies = new Map(
    sessionCookieNames(config).map((name) => [
      name,
      sessionCookieStrategy(sessions, name, { xsrf: xsrfInUse(config) }),
    ]),
  );
  // Tried in this order; a bearer token is never answered by a cookie. Of
  // the cookies, gatehouse's own session answers first; an Auth.js cookie
  // only when it is absent or gone; the development bypass only when the
  // request carries no credential at all.
  const strategiesWith = (names: string[]) => [
    ...bearers,
    ...names.map((name) => sessionStrategies.get(name) as CredentialStrategy),
    ...(authjs ? [authjs.strategy] : []),
    ...(bypass ? [bypass] : []),
  ];
  const resolve = createResolveHandler({
    config,
    strategies: strategiesWith([...sessionStrategies.keys()]),
    // SITES: on a site's host, its own session cookie name only (sites/cookies.ts).
    siteStrategies: new Map(
      config.sites.sites.map((site) => [
        site.domain,
        strategiesWith([siteCookieName(config, site)]),
      ]),
    ),
    signer,
    metrics,
    clock,
    upstreamToken: (userId, provider) =>
      oauth.upstreamToken(userId, provider).then(
        (value): UpstreamTokenResult => ({ kind: "token", value }),
        (error): UpstreamTokenResult => {
          if (!(error instanceof UpstreamTokenError)) {
            logError(error, "upstream token");
            return { kind: "unavailable", message: "cannot read the provider token right now" };
          }
          return { kind: error.reason, message: error.message };
        },
      ),
    logError,
  });
  const app = new Hono<AppEnv>();
  app.use("*", requestId());
  app.route(
    config.auth_prefix,
    authRoutes({
      config,
      accounts,
      emailFlows,
      sessions,
      ownSessions: createOwnSessions({ sessions, audit }),
      audit,
      audits,
      directory,
      userAdmin,
      invitations,
      apiKeys,
      oauth,
      hopCodes: hopCodeStore(database.db, {
        idleTimeoutSeconds: config.session_idle_timeout,
        now: () => clock.now(),
        audit,
      }),
      factors,
      pendingSignIns,
      passkeys,
      languages,
      userLocales: locales,
      brands,
      logError,
      isStoreUnavailable,
    }),
  );
  app.get("/.well-known/jwks.json", (c) => {
    c.header("Cache-Control", "public, max-age=300");
    return c.json(keys.jwks);
  });
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", async (c) => {
    if (draining.value) return c.json({ status: "draining" }, 503);
    // Redis is reported, never required: without it requests go to SQL. So is
    // the Auth.js app's database: cached user checks go on without it.
    const authjsDatabase = await authjs?.userCheck?.ping().then(
      () => "ok",
      () => "unavailable",
    );
    const shared = {
      ...(redis ? { redis: redis.isReady() ? "ok" : "unavailable" } : {}),
      ...(authjsDatabase ? { authjsDatabase } : {}),
      ...(config.dev_bypass_user ? { devBypass: config.dev_bypass_user } : {}),
    };
    try {
      await database.ping();
      return c.json({ status: "ok", database: database.kind, ...shared });
    } catch (error) {
      logError(error, "readiness database ping");
      return c.json({ status: "unavailable", database: database.kind, ...shared }, 503);
    }
  });
  app.get("/metrics", async (c) => {
    c.header("Content-Type", metrics.registry.contentType);
    return c.body(await metrics.registry.metrics());
  });
  app.notFound((c) => c.json(errorBody("not_found", "No such endpoint.", c.get("requestId")), 404));
  app.onError(jsonErrors({ log: logError, isStoreUnavailable }));

  return {
    app,
    resolve,
    shed: passwordLoadShedder(config.auth_prefix, () => hasher.hasCapacity()),
    config,
    database,
    sessions,
    accounts,
    apiKeys,
    users: userAdmin,
    factors,
    directory,
    audits,
    audit,
    invitations,
    emailFlows,
    mailer,
    oauth,
    passkeys,
    metrics,
    draining,
    reloadKeys,
    close: () => {
      clearInterval(keyReload);
      stopRetention();
      void authjs?.userCheck?.close();
      mailer.close();
      void hasher.close();
    },
  };
}
