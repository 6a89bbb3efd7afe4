// Sessions as a handful of plain functions: create, validate, revoke.
// Validation is the resolver's hot path: a bounded in-process cache answers
// most requests, and sliding renewal writes only when a session is past half
// its idle window.
import { LRUCache } from "lru-cache";
import { type Clock, systemClock } from "../kernel/clock.ts";
import { generateToken, hashToken, isWellFormedToken } from "../kernel/tokens.ts";
import type { ResolvedSession, SessionGuard, SessionRecord, SessionStore } from "./store.ts";

/** The clock lives in the kernel; named here too for the modules that import it from sessions/. */
export { type Clock, systemClock } from "../kernel/clock.ts";
export type { SessionGuard } from "./store.ts";

export type SessionServiceOptions = {
  store: SessionStore;
  clock?: Clock;
  idleTimeoutSeconds: number;
  maxAgeSeconds: number;
  /** 0 turns the in-process cache off. */
  cacheTtlSeconds: number;
  cacheMax: number;
  /** Called after sessions are revoked or changed here, so other replicas drop them from memory too. */
  onForgotten?: (ids: string[]) => void;
  onBackgroundError?: (error: unknown) => void;
};

export type SessionService = ReturnType<typeof createSessionService>;

const NOT_FOUND = Symbol("not found");
const REFRESH_AGAIN_MS = 1000;
const NULL_SESSION: Promise<null> = Promise.resolve(null);

export function createSessionService(options: SessionServiceOptions) {
  const { store } = options;
  const clock = options.clock ?? systemClock;
  const idleMs = options.idleTimeoutSeconds * 1000;
  const maxAgeMs = options.maxAgeSeconds * 1000;
  const cacheEnabled = options.cacheTtlSeconds > 0 && options.cacheMax > 0;
  const cache = cacheEnabled
    ? new LRUCache<string, ResolvedSession | typeof NOT_FOUND>({
        max: options.cacheMax,
        ttl: options.cacheTtlSeconds * 1000,
      })
    : undefined;
  const renewing = new Set<string>();

  function isLive(session: SessionRecord, now: number): boolean {
    return now < session.idleExpiresAt.getTime() && now < session.expiresAt.getTime();
  }

  function renewIfDue(resolved: ResolvedSession, now: number): void {
    const { session } = resolved;
    if (session.idleExpiresAt.getTime() - now > idleMs / 2 || renewing.has(session.id)) return;
    const idleExpiresAt = new Date(Math.min(now + idleMs, session.expiresAt.getTime()));
    if (idleExpiresAt.getTime() <= session.idleExpiresAt.getTime()) return;
    // Renewed in memory at once, so concurrent requests do not write again.
    session.idleExpiresAt = idleExpiresAt;
    renewing.add(session.id);
    store
      .touch(session.id, idleExpiresAt)
      .catch((error) => options.onBackgroundError?.(error))
      .finally(() => renewing.delete(session.id));
  }

  /** A warm session is answered from memory without a promise of its own. */
  function validateId(id: string): Promise<ResolvedSession | null> {
    const now = clock.now();
    const cached = cache?.get(id);
    if (cached === NOT_FOUND) return NULL_SESSION;
    if (cached) {
      if (!isLive(cached.session, now)) {
        cache?.delete(id);
        return NULL_SESSION;
      }
      renewIfDue(cached, now);
      return Promise.resolve(cached);
    }
    return load(id, now);
  }

  async function load(id: string, now: number): Promise<ResolvedSession | null> {
    const resolved = await store.findWithUser(id);
    if (!resolved || !isLive(resolved.session, now)) {
      cache?.set(id, NOT_FOUND);
      if (resolved) store.delete(id).catch((error) => options.onBackgroundError?.(error));
      return null;
    }
    renewIfDue(resolved, now);
    cache?.set(id, resolved);
    return resolved;
  }

  function forget(ids: string[]): void {
    for (const id of ids) cache?.delete(id);
  }

  function newSession(
    userId: string,
    method: string,
    meta: { ip?: string | null; userAgent?: string | null },
  ): { token: string; session: SessionRecord } {
    const token = generateToken();
    const now = clock.now();
    const session: SessionRecord = {
      id: hashToken(token),
      userId,
      method,
      authenticatedAt: new Date(now),
      idleExpiresAt: new Date(Math.min(now + idleMs, now + maxAgeMs)),
      expiresAt: new Date(now + maxAgeMs),
      ip: meta.ip ?? null,
      userAgent: meta.userAgent?.slice(0, 512) ?? null,
      createdAt: new Date(now),
    };
    return { token, session };
  }

  const service = {
    /** Creates a fresh session (never reuses one: no fixation) and returns the cookie token. */
    async create(
      userId: string,
      method: string,
      meta: { ip?: string | null; userAgent?: string | null } = {},
    ): Promise<{ token: string; session: SessionRecord }> {
      const fresh = newSession(userId, method, meta);
      await store.create(fresh.session);
      return fresh;
    },

    /**
     * Creates a session only while what it was made with is still the
     * account's (the password just verified, the provider identity): null
     * when a reset or a first proof of the address changed it meanwhile.
     */
    async createIf(
      guard: SessionGuard,
      userId: string,
      method: string,
      meta: { ip?: string | null; userAgent?: string | null } = {},
    ): Promise<{ token: string; session: SessionRecord } | null> {
      const fresh = newSession(userId, method, meta);
      return (await store.createIf(fresh.session, guard)) ? fresh : null;
    },

    /**
     * The live session for a cookie token, or null. Throws only when the
     * store cannot answer: the caller must then fail closed.
     */
    validate(token: string | undefined): Promise<ResolvedSession | null> {
      if (!isWellFormedToken(token)) return Promise.resolve(null);
      return validateId(hashToken(token));
    },

    /** The first live session among a cookie's values (browsers may send duplicates across domains). */
    async validateAny(tokens: string[]): Promise<ResolvedSession | null> {
      return service.validateIds(tokens.filter(isWellFormedToken).map(hashToken));
    },

    /** As validateAny, for tokens already hashed (the resolver remembers the hashes per Cookie header). */
    async validateIds(ids: string[]): Promise<ResolvedSession | null> {
      for (const id of ids) {
        const resolved = await validateId(id);
        if (resolved) return resolved;
      }
      return null;
    },

    async revoke(id: string): Promise<void> {
      await store.delete(id);
      forget([id]);
      options.onForgotten?.([id]);
    },

    /**
     * Sessions a caller already deleted in SQL, inside its own transaction:
     * every copy goes too (Redis, with a tombstone; this replica's memory;
     * every other replica's).
     */
    async dropped(ids: string[]): Promise<void> {
      if (ids.length === 0) return;
      await Promise.all(ids.map((id) => store.delete(id)));
      forget(ids);
      options.onForgotten?.(ids);
    },

    /** Revokes every session of a user (but one, to keep the caller signed in). */
    async revokeAllForUser(userId: string, exceptId?: string): Promise<number> {
      const ids = await store.deleteForUser(userId, exceptId);
      forget(ids);
      if (ids.length > 0) options.onForgotten?.(ids);
      return ids.length;
    },

    /**
     * The user changed (address verified, ...): every replica drops the
     * user's sessions from its caches, so the next request reads the change.
     */
    async refreshUser(userId: string): Promise<void> {
      const ids = (await store.listForUser(userId, new Date(clock.now()))).map((s) => s.id);
      if (ids.length === 0) return;
      const drop = async () => {
        await store.evict?.(ids);
        forget(ids);
        options.onForgotten?.(ids);
      };
      await drop();
      // Once more a moment later: a replica whose SQL read was in flight
      // during the change may have cached the old user again since.
      setTimeout(() => {
        drop().catch((error) => options.onBackgroundError?.(error));
      }, REFRESH_AGAIN_MS).unref();
    },

    list(userId: string): Promise<SessionRecord[]> {
      return store.listForUser(userId, new Date(clock.now()));
    },

    /** Drops sessions from this replica's memory (revocation messages from other replicas). */
    forget,
  };
  return service;
}
