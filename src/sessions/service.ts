// Sessions as a handful of plain functions: create, validate, revoke.
// Validation is the resolver's hot path: a bounded in-process cache answers
// most requests, and sliding renewal writes only when a session is past half
// its idle window.
import { LRUCache } from "lru-cache";
import type { ResolvedSession, SessionRecord, SessionStore } from "./store.ts";
import { generateToken, hashToken, isWellFormedToken } from "./tokens.ts";

export type Clock = { now(): number };
export const systemClock: Clock = { now: () => Date.now() };

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

  function forget(ids: string[]): void {
    for (const id of ids) cache?.delete(id);
  }

  const service = {
    /** Creates a fresh session (never reuses one: no fixation) and returns the cookie token. */
    async create(
      userId: string,
      method: string,
      meta: { ip?: string | null; userAgent?: string | null } = {},
    ): Promise<{ token: string; session: SessionRecord }> {
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
      await store.create(session);
      return { token, session };
    },

    /**
     * The live session for a cookie token, or null. Throws only when the
     * store cannot answer: the caller must then fail closed.
     */
    async validate(token: string | undefined): Promise<ResolvedSession | null> {
      if (!isWellFormedToken(token)) return null;
      const id = hashToken(token);
      const now = clock.now();
      const cached = cache?.get(id);
      if (cached === NOT_FOUND) return null;
      if (cached) {
        if (!isLive(cached.session, now)) {
          cache?.delete(id);
          return null;
        }
        renewIfDue(cached, now);
        return cached;
      }
      const resolved = await store.findWithUser(id);
      if (!resolved || !isLive(resolved.session, now)) {
        cache?.set(id, NOT_FOUND);
        if (resolved) store.delete(id).catch((error) => options.onBackgroundError?.(error));
        return null;
      }
      renewIfDue(resolved, now);
      cache?.set(id, resolved);
      return resolved;
    },

    /** The first live session among a cookie's values (browsers may send duplicates across domains). */
    async validateAny(tokens: string[]): Promise<ResolvedSession | null> {
      for (const token of tokens) {
        const resolved = await service.validate(token);
        if (resolved) return resolved;
      }
      return null;
    },

    async revoke(id: string): Promise<void> {
      await store.delete(id);
      forget([id]);
      options.onForgotten?.([id]);
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
