// Personal API keys: create (shown once), list, revoke, and resolve a bearer
// key to its user on the hot path. Resolution is served from a bounded
// in-process cache; last use is written at most every LAST_USED_GRANULARITY,
// never on every request.
import { and, desc, eq, isNull } from "drizzle-orm";
import type { Database } from "../db/client.ts";
import { apiKeys, sessions, users } from "../db/schema.ts";
import { ServiceError } from "../errors.ts";
import { type Clock, systemClock } from "../kernel/clock.ts";
import { GrowingLru } from "../kernel/growing-lru.ts";
import type { Identity } from "../kernel/identity.ts";
import { provenRecently, RECENT_PROOF_WINDOW_MS } from "../sessions/amr.ts";
import { apiKeyStart, generateApiKey, hashApiKey, isWellFormedApiKey } from "./format.ts";

const LAST_USED_GRANULARITY_MS = 5 * 60 * 1000;
const MAX_KEYS_PER_USER = 100;
const MAX_LIFETIME_DAYS = 3650;

export type ApiKeySummary = {
  id: string;
  name: string;
  start: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
};

/** The browser session a user manages keys through; factorTimes: what it proved since. */
export type ActingSession = {
  id: string;
  authenticatedAt: Date;
  factorTimes?: Record<string, number>;
};

type Resolved = {
  keyId: string;
  expiresAt: number | null;
  lastUsedAt: number | null;
  identity: Identity;
};

export type ApiKeyService = ReturnType<typeof createApiKeyService>;

const NOT_FOUND = Symbol("not found");

export function createApiKeyService(options: {
  db: Database;
  clock?: Clock;
  /** 0 turns the cache off. */
  cacheTtlSeconds: number;
  cacheMax: number;
  onBackgroundError?: (error: unknown) => void;
  /** Called with the hashes of keys revoked here, so other replicas can drop them too. */
  onRevoked?: (hashes: string[]) => void;
}) {
  const { db } = options;
  const clock = options.clock ?? systemClock;
  const cache =
    options.cacheTtlSeconds > 0
      ? new GrowingLru<string, Resolved | typeof NOT_FOUND>({
          max: options.cacheMax,
          ttl: options.cacheTtlSeconds * 1000,
        })
      : undefined;

  function summary(row: typeof apiKeys.$inferSelect): ApiKeySummary {
    return {
      id: row.id,
      name: row.name,
      start: row.start,
      createdAt: row.createdAt.toISOString(),
      expiresAt: row.expiresAt?.toISOString() ?? null,
      lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    };
  }

  function recordUse(resolved: Resolved, now: number): void {
    if (resolved.lastUsedAt !== null && now - resolved.lastUsedAt < LAST_USED_GRANULARITY_MS)
      return;
    // Marked in memory first, so concurrent requests do not write again.
    resolved.lastUsedAt = now;
    db.update(apiKeys)
      .set({ lastUsedAt: new Date(now) })
      .where(eq(apiKeys.id, resolved.keyId))
      .catch((error: unknown) => options.onBackgroundError?.(error));
  }

  /** Keys are secrets that outlive the session: managing them needs a recent proof, as factors do. */
  function requireRecentSignIn(session: ActingSession): void {
    if (provenRecently(session, clock.now())) return;
    throw new ServiceError(
      "reauthentication_required",
      `Sign in again (or prove a second factor) to manage API keys: this needs a proof within the last ${RECENT_PROOF_WINDOW_MS / 60_000} minutes.`,
    );
  }

  /** Drops revoked keys from this replica's cache and tells the other replicas. */
  function dropped(hashes: string[]): void {
    for (const hash of hashes) cache?.delete(hash);
    if (hashes.length > 0) options.onRevoked?.(hashes);
  }

  async function lookup(hash: string): Promise<Resolved | null> {
    const [row] = await db
      .select({ key: apiKeys, user: users })
      .from(apiKeys)
      .innerJoin(users, eq(users.id, apiKeys.userId))
      .where(and(eq(apiKeys.hash, hash), isNull(apiKeys.revokedAt)))
      .limit(1);
    if (!row || row.user.disabledAt) return null;
    return {
      keyId: row.key.id,
      expiresAt: row.key.expiresAt?.getTime() ?? null,
      lastUsedAt: row.key.lastUsedAt?.getTime() ?? null,
      identity: {
        userId: row.user.id,
        email: row.user.email,
        emailVerified: row.user.emailVerified,
        name: row.user.name,
        roles: row.user.roles,
        method: "api-key",
        authenticatedAt: row.key.createdAt,
      },
    };
  }

  return {
    /**
     * Creates a key. Through a browser session (`session`), the account's
     * address must be verified and the sign-in recent; the key goes in only
     * while the session still exists, in one transaction behind the user's
     * row, so a first proof of the address (which removes keys and sessions
     * made before it) cannot be overtaken. Without one, an operator acts.
     */
    async create(input: {
      userId: string;
      name: string;
      expiresInDays?: number | undefined;
      session?: ActingSession;
    }): Promise<{ key: string; apiKey: ApiKeySummary }> {
      const name = input.name.trim();
      if (name.length === 0 || name.length > 100 || /[\p{Cc}]/u.test(name))
        throw new ServiceError("invalid_request", "a key needs a name of 1 to 100 characters");
      const days = input.expiresInDays;
      if (days !== undefined && !(Number.isInteger(days) && days >= 1 && days <= MAX_LIFETIME_DAYS))
        throw new ServiceError(
          "invalid_request",
          `expiresInDays must be a whole number from 1 to ${MAX_LIFETIME_DAYS}`,
        );
      const { session } = input;
      const key = generateApiKey();
      const now = clock.now();
      const row = await db.transaction(async (tx) => {
        if (session) {
          const [user] = await tx
            .select({ emailVerified: users.emailVerified, disabledAt: users.disabledAt })
            .from(users)
            .where(eq(users.id, input.userId))
            .for("share");
          if (!user || user.disabledAt)
            throw new ServiceError("unauthenticated", "Sign in to continue.");
          if (!user.emailVerified)
            throw new ServiceError(
              "email_not_verified",
              "Confirm your email address first: API keys can only be created once the address is confirmed. Use the link we sent you, or ask for a new one on your account page.",
            );
          requireRecentSignIn(session);
          const [live] = await tx
            .select({ id: sessions.id })
            .from(sessions)
            .where(and(eq(sessions.id, session.id), eq(sessions.userId, input.userId)))
            .for("share");
          if (!live) throw new ServiceError("unauthenticated", "Sign in to continue.");
        }
        const existing = await tx
          .select({ id: apiKeys.id })
          .from(apiKeys)
          .where(and(eq(apiKeys.userId, input.userId), isNull(apiKeys.revokedAt)));
        if (existing.length >= MAX_KEYS_PER_USER)
          throw new ServiceError("conflict", `at most ${MAX_KEYS_PER_USER} keys per user`);
        const [inserted] = await tx
          .insert(apiKeys)
          .values({
            id: crypto.randomUUID(),
            userId: input.userId,
            name,
            hash: hashApiKey(key),
            start: apiKeyStart(key),
            createdAt: new Date(now),
            expiresAt: days === undefined ? null : new Date(now + days * 86_400_000),
          })
          .returning();
        return inserted;
      });
      if (!row) throw new Error("insert returned nothing");
      return { key, apiKey: summary(row) };
    },

    async list(userId: string): Promise<ApiKeySummary[]> {
      const rows = await db
        .select()
        .from(apiKeys)
        .where(and(eq(apiKeys.userId, userId), isNull(apiKeys.revokedAt)))
        .orderBy(desc(apiKeys.createdAt));
      return rows.map(summary);
    },

    /**
     * Revokes one of the user's keys; false when there is no such live key.
     * Through a browser session (`session`), the sign-in must be recent.
     */
    async revoke(userId: string, id: string, session?: ActingSession): Promise<boolean> {
      if (session) requireRecentSignIn(session);
      const rows = await db
        .update(apiKeys)
        .set({ revokedAt: new Date(clock.now()) })
        .where(and(eq(apiKeys.id, id), eq(apiKeys.userId, userId), isNull(apiKeys.revokedAt)))
        .returning({ hash: apiKeys.hash });
      dropped(rows.map((row) => row.hash));
      return rows.length > 0;
    },

    /** Keys revoked in SQL by a caller's own transaction: every replica drops them. */
    dropped,

    /** Drops a key from this process's cache (another replica revoked it). */
    forget(hash: string): void {
      cache?.delete(hash);
    },

    /** The identity behind a bearer key, or null for an unknown, revoked or expired key. Throws when the store fails. */
    async resolve(key: string): Promise<Identity | null> {
      if (!isWellFormedApiKey(key)) return null;
      const hash = hashApiKey(key);
      let resolved = cache?.get(hash);
      if (resolved === undefined) {
        resolved = (await lookup(hash)) ?? NOT_FOUND;
        cache?.set(hash, resolved);
      }
      if (resolved === NOT_FOUND) return null;
      const now = clock.now();
      if (resolved.expiresAt !== null && now >= resolved.expiresAt) return null;
      recordUse(resolved, now);
      return resolved.identity;
    },
  };
}
