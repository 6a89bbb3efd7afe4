// The SQL schema: the source of truth. Migrations in drizzle/ are generated
// from this file with `npm run db:generate`.
import { sql } from "drizzle-orm";
import {
  bigint,
  bigserial,
  boolean,
  index,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
} from "drizzle-orm/pg-core";

const createdAt = () => timestamp("created_at", { withTimezone: true }).notNull().defaultNow();

export const users = pgTable(
  "users",
  {
    id: text("id").primaryKey(),
    /** Canonical form: trimmed, NFKC, lower-case. */
    email: text("email").notNull().unique(),
    emailVerified: boolean("email_verified").notNull().default(false),
    name: text("name").notNull().default(""),
    roles: text("roles").array().notNull().default(sql`'{}'::text[]`),
    disabledAt: timestamp("disabled_at", { withTimezone: true }),
    /** The language the user last chose or registered in (a catalogue's tag): their mail's language. */
    locale: text("locale"),
    createdAt: createdAt(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    // The admin console's user list: newest first, keyset-paginated, and prefix search.
    index("users_created_id_idx").on(table.createdAt, table.id),
    index("users_email_prefix_idx").on(table.email.op("text_pattern_ops")),
    index("users_roles_idx").using("gin", table.roles),
    index("users_name_prefix_idx").on(sql`lower(${table.name}) text_pattern_ops`),
  ],
);

export const passwordCredentials = pgTable("password_credentials", {
  userId: text("user_id")
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  hash: text("hash").notNull(),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});

/**
 * A provider account a user signs in with: keyed on (provider, subject),
 * never on email. The provider's tokens are kept here, encrypted (JWE), and
 * never reach the browser.
 */
export const oauthIdentities = pgTable(
  "oauth_identities",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** The provider's id in the configuration. */
    provider: text("provider").notNull(),
    /** The provider's stable id for the account (OIDC `sub`, GitHub's numeric id). */
    subject: text("subject").notNull(),
    email: text("email"),
    emailVerified: boolean("email_verified").notNull().default(false),
    name: text("name"),
    avatarUrl: text("avatar_url"),
    accessToken: text("access_token"),
    refreshToken: text("refresh_token"),
    tokenExpiresAt: timestamp("token_expires_at", { withTimezone: true }),
    createdAt: createdAt(),
    lastLoginAt: timestamp("last_login_at", { withTimezone: true }),
  },
  (table) => [
    uniqueIndex("oauth_identities_provider_subject_idx").on(table.provider, table.subject),
    index("oauth_identities_user_id_idx").on(table.userId),
    // The admin console's "signed in with provider X" filter.
    index("oauth_identities_provider_user_idx").on(table.provider, table.userId),
  ],
);

/**
 * A sign-in at a provider in progress: the browser holds a random handle in
 * a cookie, this row (keyed by its SHA-256) holds state, PKCE verifier and
 * nonce. Deleted when the callback arrives, so it works once.
 */
export const oauthFlows = pgTable("oauth_flows", {
  id: text("id").primaryKey(),
  provider: text("provider").notNull(),
  state: text("state").notNull(),
  codeVerifier: text("code_verifier").notNull(),
  nonce: text("nonce").notNull(),
  returnTo: text("return_to"),
  /** Set when a signed-in user links this provider to the account. */
  linkUserId: text("link_user_id"),
  expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
  createdAt: createdAt(),
});

export const sessions = pgTable(
  "sessions",
  {
    /** SHA-256 (hex) of the cookie token: a database leak yields no usable cookie. */
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** password, oauth:<provider>, ... */
    method: text("method").notNull(),
    authenticatedAt: timestamp("authenticated_at", { withTimezone: true }).notNull(),
    /** RFC 8176 authentication methods (pwd, otp, hwk, swk, mfa, or a provider's), in the order proven. */
    amr: text("amr").array().notNull().default(sql`'{}'::text[]`),
    /** When each amr value was last proven (epoch ms); a value absent here counts from authenticated_at. */
    factorTimes: jsonb("factor_times").$type<Record<string, number>>().notNull().default({}),
    idleExpiresAt: timestamp("idle_expires_at", { withTimezone: true }).notNull(),
    /** When the session last answered a request, to within SEEN_EVERY (sessions/service.ts); null: not since it began. */
    lastSeenAt: timestamp("last_seen_at", { withTimezone: true }),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    ip: text("ip"),
    userAgent: text("user_agent"),
    createdAt: createdAt(),
    /**
     * The sign-in this session belongs to: the id of the session made at the
     * home site when the user signed in; each satellite's session (sites/)
     * carries it too, so signing out anywhere ends them all. Null on
     * sessions from before sites existed: each is then its own sign-in.
     */
    signInId: text("sign_in_id"),
    /** The satellite site (its SITES domain) this session is for; null: the home site. */
    site: text("site"),
  },
  (table) => [
    index("sessions_user_id_idx").on(table.userId),
    index("sessions_sign_in_id_idx").on(table.signInId),
  ],
);

/**
 * What a session started with an OpenID Connect provider remembers of the
 * provider's session: its `sid` (back-channel logout names it) and the ID
 * token, sealed like the other provider tokens (the `id_token_hint` of an
 * RP-initiated logout). Kept beside the session, not in it, so the hot path
 * never reads or caches it; it goes with its session.
 */
/** A provider_sessions row before its session exists. */
export type ProviderSessionRecord = {
  provider: string;
  subject: string;
  sid: string | null;
  idToken: string | null;
};

export const providerSessions = pgTable(
  "provider_sessions",
  {
    sessionId: text("session_id")
      .primaryKey()
      .references(() => sessions.id, { onDelete: "cascade" }),
    /** The provider's id in the configuration. */
    provider: text("provider").notNull(),
    /** The provider's subject (`sub`) the session was signed in as. */
    subject: text("subject").notNull(),
    /** The ID token's `sid`, when the provider sends one. */
    sid: text("sid"),
    /** The ID token, sealed (JWE). */
    idToken: text("id_token"),
    createdAt: createdAt(),
  },
  (table) => [
    index("provider_sessions_provider_sid_idx").on(table.provider, table.sid),
    index("provider_sessions_provider_subject_idx").on(table.provider, table.subject),
  ],
);

/**
 * Logout tokens already acted on (back-channel logout), by provider and
 * `jti`, so a replayed token changes nothing. Used when Redis is not
 * configured; rows expire when the token's `iat` is too old to pass anyway.
 */
export const usedLogoutTokens = pgTable(
  "used_logout_tokens",
  {
    /** SHA-256 of provider and jti. */
    id: text("id").primaryKey(),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
  },
  (table) => [index("used_logout_tokens_expires_idx").on(table.expiresAt)],
);

/**
 * A one-time code the home site hands a satellite (sites/hop-codes.ts):
 * keyed by its SHA-256, bound to the satellite's host and to the hash of the
 * state in that browser's satellite cookie, and deleted when it is used.
 * Lives seconds.
 */
export const siteCodes = pgTable("site_codes", {
  id: text("id").primaryKey(),
  signInId: text("sign_in_id").notNull(),
  userId: text("user_id")
    .notNull()
    .references(() => users.id, { onDelete: "cascade" }),
  /** The exact host the code may be exchanged on. */
  host: text("host").notNull(),
  /** The satellite's SITES domain. */
  site: text("site").notNull(),
  stateHash: text("state_hash").notNull(),
  returnTo: text("return_to").notNull(),
  expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
  createdAt: createdAt(),
});

export const emailTokens = pgTable(
  "email_tokens",
  {
    /** SHA-256 (hex) of the token sent by email. */
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    purpose: text("purpose").notNull(),
    /** The address the token was sent to; a token dies if the account's address changes. */
    email: text("email").notNull(),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    usedAt: timestamp("used_at", { withTimezone: true }),
    createdAt: createdAt(),
  },
  (table) => [index("email_tokens_user_purpose_idx").on(table.userId, table.purpose)],
);

export const auditEvents = pgTable(
  "audit_events",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    at: timestamp("at", { withTimezone: true }).notNull().defaultNow(),
    type: text("type").notNull(),
    /** The subject: whose account the event is about. Kept when the account is deleted. */
    userId: text("user_id"),
    /** Who did it: the subject themselves, an admin's user id, or "cli". */
    actorId: text("actor_id"),
    ip: text("ip"),
    userAgent: text("user_agent"),
    /** success | failure */
    outcome: text("outcome").notNull().default("success"),
    detail: jsonb("detail").$type<Record<string, unknown>>().notNull().default({}),
  },
  (table) => [
    index("audit_events_user_idx").on(table.userId, table.at),
    // Time-range browsing, export and retention; by kind for the console's filter.
    index("audit_events_at_idx").on(table.at),
    index("audit_events_type_at_idx").on(table.type, table.at),
  ],
);

/** Personal API keys: only a hash of the key is kept; the key itself is shown once. */
export const apiKeys = pgTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    /** SHA-256 (hex) of the whole key. */
    hash: text("hash").notNull().unique(),
    /** The first characters of the key, to recognise it in a list. */
    start: text("start").notNull(),
    createdAt: createdAt(),
    expiresAt: timestamp("expires_at", { withTimezone: true }),
    /** Written at most every few minutes, never on every request. */
    lastUsedAt: timestamp("last_used_at", { withTimezone: true }),
    revokedAt: timestamp("revoked_at", { withTimezone: true }),
  },
  (table) => [index("api_keys_user_id_idx").on(table.userId)],
);

/**
 * An admin's invitation of an address: the mailed link's token is kept as its
 * SHA-256 only; single use (accepted_at), checked for expiry when used.
 */
export const invitations = pgTable(
  "invitations",
  {
    id: text("id").primaryKey(),
    /** Canonical address. */
    email: text("email").notNull(),
    roles: text("roles").array().notNull().default(sql`'{}'::text[]`),
    /** SHA-256 (hex) of the link's token. */
    tokenHash: text("token_hash").notNull().unique(),
    invitedBy: text("invited_by"),
    createdAt: createdAt(),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    acceptedAt: timestamp("accepted_at", { withTimezone: true }),
    acceptedUserId: text("accepted_user_id"),
    revokedAt: timestamp("revoked_at", { withTimezone: true }),
  },
  (table) => [
    index("invitations_email_idx").on(table.email),
    index("invitations_created_idx").on(table.createdAt),
  ],
);

/** Keys gatehouse signs with (x-auth-jwt). Generated on first start when none exist. */
export const signingKeys = pgTable("signing_keys", {
  kid: text("kid").primaryKey(),
  alg: text("alg").notNull(),
  privateJwk: jsonb("private_jwk").$type<Record<string, unknown>>().notNull(),
  publicJwk: jsonb("public_jwk").$type<Record<string, unknown>>().notNull(),
  createdAt: createdAt(),
  /** Stops signing after this; stays published until expires_at has long passed for every assertion. */
  retiredAt: timestamp("retired_at", { withTimezone: true }),
});

/** Small named values gatehouse keeps for itself (generated secrets). */
export const settings = pgTable("settings", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
  createdAt: createdAt(),
});

/**
 * A user's authenticator app (RFC 6238: SHA-1, 6 digits, 30 s). The secret
 * is sealed with the token encryption keys. Unconfirmed until the first
 * code; `last_step` is the last time step accepted, and no code of that step
 * or an earlier one is accepted again.
 */
export const totpFactors = pgTable("totp_factors", {
  userId: text("user_id")
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  secret: text("secret").notNull(),
  confirmedAt: timestamp("confirmed_at", { withTimezone: true }),
  lastStep: bigint("last_step", { mode: "number" }),
  createdAt: createdAt(),
});

/** Single-use recovery codes: only their SHA-256 is kept; the codes are shown once. */
export const recoveryCodes = pgTable(
  "recovery_codes",
  {
    /** SHA-256 (hex) of the normalised code. */
    hash: text("hash").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    usedAt: timestamp("used_at", { withTimezone: true }),
    createdAt: createdAt(),
  },
  (table) => [index("recovery_codes_user_id_idx").on(table.userId)],
);

/**
 * Half signed in: the first factor was proven, the second is still owed. The
 * browser holds a random token in its own cookie (never the session cookie);
 * this row, keyed by its SHA-256, holds what the session will be made with
 * once the second factor is proven. Never a session: it resolves nothing.
 */
export const pendingSignIns = pgTable(
  "pending_sign_ins",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    method: text("method").notNull(),
    amr: text("amr").array().notNull(),
    /** What the session must still be made with (sessions/store.ts SessionGuard). */
    guard: jsonb("guard").$type<{ passwordHash: string } | { identityId: string }>().notNull(),
    returnTo: text("return_to"),
    /**
     * A provider sign-in's provider session (provider_sessions without the
     * session id), recorded beside the session once the factor makes it.
     */
    providerSession: jsonb("provider_session").$type<ProviderSessionRecord>(),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    createdAt: createdAt(),
  },
  (table) => [index("pending_sign_ins_user_id_idx").on(table.userId)],
);

/**
 * A passkey (WebAuthn credential) a user signs in with: the authenticator's
 * public key, never a secret. The sign counter only moves forward; the
 * backup flags say whether the key is synced across devices.
 */
export const webauthnCredentials = pgTable(
  "webauthn_credentials",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** The authenticator's credential id, base64url; unique across every account. */
    credentialId: text("credential_id").notNull().unique(),
    /** The COSE public key, base64url. */
    publicKey: text("public_key").notNull(),
    counter: bigint("counter", { mode: "number" }).notNull().default(0),
    transports: text("transports").array().notNull().default(sql`'{}'::text[]`),
    /** singleDevice or multiDevice (a synced passkey). */
    deviceType: text("device_type").notNull(),
    backedUp: boolean("backed_up").notNull().default(false),
    /** The authenticator model (AAGUID), when it tells. */
    aaguid: text("aaguid"),
    /** Given by the user. */
    name: text("name").notNull(),
    createdAt: createdAt(),
    lastUsedAt: timestamp("last_used_at", { withTimezone: true }),
  },
  (table) => [index("webauthn_credentials_user_id_idx").on(table.userId)],
);

/**
 * A WebAuthn ceremony in progress: the browser holds a random handle in a
 * cookie, this row (keyed by its SHA-256) holds the challenge. Deleted when
 * the answer arrives, so a challenge works once; expires within minutes.
 */
export const webauthnChallenges = pgTable(
  "webauthn_challenges",
  {
    id: text("id").primaryKey(),
    /** register, authenticate (passwordless sign-in) or step-up. */
    purpose: text("purpose").notNull(),
    challenge: text("challenge").notNull(),
    /** The account a registration or step-up is for; none for a passwordless sign-in. */
    userId: text("user_id").references(() => users.id, { onDelete: "cascade" }),
    /** The session that asked (registration, step-up): the answer must come from it. */
    sessionId: text("session_id"),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    createdAt: createdAt(),
  },
  (table) => [index("webauthn_challenges_expires_at_idx").on(table.expiresAt)],
);
