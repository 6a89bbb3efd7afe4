// Sessions as a handful of plain functions: create, validate, revoke.
// Validation is the resolver's hot path: a bounded in-process cache answers
// most requests, and sliding renewal writes only when a session is past half
// its idle window. A session that has expired (not one revoked or never
// known) is told apart, from the row the lookup read anyway, so a front end
// can say "your session expired": the row stays for a day after its expiry
// for that, and is deleted when read after that.
import { type Clock, systemClock } from "../kernel/clock.ts";
import { GrowingLru } from "../kernel/growing-lru.ts";
import { generateToken, hashToken, isWellFormedToken } from "../kernel/tokens.ts";
import { amrOf, defaultAmr } from "./amr.ts";
import type { ResolvedSession, SessionGuard, SessionRecord, SessionStore } from "./store.ts";

/** The clock lives in the kernel; named here too for the modules that import it from sessions/. */

/** How often a session's "last seen" is written, at most (per replica). */
const SEEN_EVERY_MS = 5 * 60 * 1000;

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
/** A session that existed and has expired: answered as such, not as unknown. */
export const EXPIRED = "expired";
const EXPIRED_SESSION: Promise<typeof EXPIRED> = Promise.resolve(EXPIRED);
/** How long an expired session's row is kept to say so, before a read deletes it. */
const KEEP_EXPIRED_MS = 24 * 60 * 60 * 1000;

/** Where a session is created from, and (optionally) the amr it begins with (default: its method's). */
export type SessionMeta = { ip?: string | null; userAgent?: string | null; amr?: string[] };

/** A lookup's answer: the live session, "expired", or null (no such session, revoked, or disabled). */
export type SessionLookup = ResolvedSession | typeof EXPIRED | null;

export function createSessionService(options: SessionServiceOptions) {
  const { store } = options;
  const clock = options.clock ?? systemClock;
  const idleMs = options.idleTimeoutSeconds * 1000;
  const maxAgeMs = options.maxAgeSeconds * 1000;
  const cacheEnabled = options.cacheTtlSeconds > 0 && options.cacheMax > 0;
  const cache = cacheEnabled
    ? new GrowingLru<string, ResolvedSession | typeof NOT_FOUND | typeof EXPIRED>({
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
    noteSeen(session, now);
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

  /**
   * "Last seen" is due at most once every SEEN_EVERY_MS a session and
   * replica, and marked in memory at once; the sessions due are written in
   * the background, one statement for all that came due meanwhile and one
   * write at a time (after a restart every session comes due on its first
   * request: thousands of them make a few statements, not thousands). A
   * request never waits for it.
   */
  const seenDue = new Set<string>();
  let seenWriting = false;
  function noteSeen(session: SessionRecord, now: number): void {
    if (now - (session.lastSeenAt?.getTime() ?? 0) < SEEN_EVERY_MS) return;
    session.lastSeenAt = new Date(now);
    seenDue.add(session.id);
    if (!seenWriting) {
      seenWriting = true;
      setImmediate(writeSeen);
    }
  }
  function writeSeen(): void {
    const ids = [...seenDue];
    seenDue.clear();
    store
      .seen(ids, new Date(clock.now()))
      .catch((error) => options.onBackgroundError?.(error))
      .finally(() => {
        if (seenDue.size > 0) setImmediate(writeSeen);
        else seenWriting = false;
      });
  }

  /** A warm session is answered from memory without a promise of its own. */
  function lookUpId(id: string): Promise<SessionLookup> {
    const now = clock.now();
    const cached = cache?.get(id);
    if (cached === NOT_FOUND) return NULL_SESSION;
    if (cached === EXPIRED) return EXPIRED_SESSION;
    if (cached) {
      if (!isLive(cached.session, now)) {
        // Read again: another replica may have renewed it meanwhile.
        cache?.delete(id);
        return load(id, now);
      }
      renewIfDue(cached, now);
      return Promise.resolve(cached);
    }
    return load(id, now);
  }

  async function load(id: string, now: number): Promise<SessionLookup> {
    const resolved = await store.findWithUser(id);
    if (!resolved) {
      cache?.set(id, NOT_FOUND);
      return null;
    }
    if (!isLive(resolved.session, now)) {
      const { idleExpiresAt, expiresAt } = resolved.session;
      const endedAt = Math.min(idleExpiresAt.getTime(), expiresAt.getTime());
      if (now - endedAt < KEEP_EXPIRED_MS) {
        cache?.set(id, EXPIRED);
        return EXPIRED;
      }
      cache?.set(id, NOT_FOUND);
      store.delete(id).catch((error) => options.onBackgroundError?.(error));
      return null;
    }
    renewIfDue(resolved, now);
    cache?.set(id, resolved);
    return resolved;
  }

  async function validateId(id: string): Promise<ResolvedSession | null> {
    const found = await lookUpId(id);
    return found === EXPIRED ? null : found;
  }

  async function firstLive(ids: string[]): Promise<SessionLookup> {
    let answer: SessionLookup = null;
    for (const id of ids) {
      const found = await lookUpId(id);
      if (found === EXPIRED) answer = EXPIRED;
      else if (found) return found;
    }
    return answer;
  }

  function forget(ids: string[]): void {
    for (const id of ids) cache?.delete(id);
  }

  /** Every cached copy of these sessions goes: Redis, this replica's memory, the others'. */
  async function dropEverywhere(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    const drop = async () => {
      await store.evict?.(ids);
      forget(ids);
      options.onForgotten?.(ids);
    };
    await drop();
    // Once more a moment later: a replica whose SQL read was in flight
    // during the change may have cached the old row again since.
    setTimeout(() => {
      drop().catch((error) => options.onBackgroundError?.(error));
    }, REFRESH_AGAIN_MS).unref();
  }

  function newSession(
    userId: string,
    method: string,
    meta: SessionMeta,
  ): { token: string; session: SessionRecord } {
    const token = generateToken();
    const now = clock.now();
    const id = hashToken(token);
    const amr = meta.amr ?? defaultAmr(method);
    const session: SessionRecord = {
      id,
      // A new sign-in: the satellites' sessions made from it carry this id.
      signInId: id,
      site: null,
      userId,
      method,
      authenticatedAt: new Date(now),
      amr,
      factorTimes: Object.fromEntries(amr.map((value) => [value, now])),
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
      meta: SessionMeta = {},
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
      meta: SessionMeta = {},
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

    /** As validateAny, for tokens already hashed. */
    async validateIds(ids: string[]): Promise<ResolvedSession | null> {
      const found = await service.lookUpIds(ids);
      return found === EXPIRED ? null : found;
    },

    /**
     * For the resolver, which remembers the hashes per token: the first live
     * session among the ids; else "expired" when one of them has expired
     * (within a day), else null. A single warm id costs no promise of its own.
     */
    lookUpIds(ids: string[]): Promise<SessionLookup> {
      if (ids.length === 1) return lookUpId(ids[0] as string);
      return firstLive(ids);
    },

    /**
     * Extends a live session's idle window now (a front end that polls asks
     * for it explicitly), never past its absolute expiry. Returns the session
     * with its new idle expiry.
     */
    async extend(resolved: ResolvedSession): Promise<SessionRecord> {
      const { session } = resolved;
      const idleExpiresAt = new Date(Math.min(clock.now() + idleMs, session.expiresAt.getTime()));
      if (idleExpiresAt.getTime() > session.idleExpiresAt.getTime()) {
        await store.touch(session.id, idleExpiresAt);
        session.idleExpiresAt = idleExpiresAt;
      }
      return session;
    },

    /**
     * A factor was just proven in this session (a step-up, a passkey
     * assertion): its amr values are added with the time, and every cache
     * (this replica's, Redis, the other replicas') drops the session, so the
     * next request sees the factor. Null when the session is gone.
     */
    async recordFactor(sessionId: string, amr: string[]): Promise<SessionRecord | null> {
      const updated = await store.recordFactor(sessionId, amr, new Date(clock.now()));
      if (!updated) return null;
      await dropEverywhere(updated.changed);
      return updated.session;
    },

    /**
     * Signs a session out, and with it every site's session of the same
     * sign-in (single sign-out across SITES): in SQL, Redis, this replica's
     * memory and every other replica's.
     */
    async revoke(id: string): Promise<void> {
      const ids = await store.deleteSignIn(id);
      const all = ids.includes(id) ? ids : [id, ...ids];
      forget(all);
      options.onForgotten?.(all);
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
      await dropEverywhere(ids);
    },

    /** The session's amr (sessions from before amr was kept: their method's). */
    amrOf,

    list(userId: string): Promise<SessionRecord[]> {
      return store.listForUser(userId, new Date(clock.now()));
    },

    /** Drops sessions from this replica's memory (revocation messages from other replicas). */
    forget,
  };
  return service;
}
