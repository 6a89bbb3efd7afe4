// The SQL schema: the source of truth. Migrations in drizzle/ are generated
// from this file with `npm run db:generate`.
import { sql } from "drizzle-orm";
import {
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
    idleExpiresAt: timestamp("idle_expires_at", { withTimezone: true }).notNull(),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    ip: text("ip"),
    userAgent: text("user_agent"),
    createdAt: createdAt(),
  },
  (table) => [index("sessions_user_id_idx").on(table.userId)],
);

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
