// The shared session cache: a SessionStore that answers from Redis when it
// can and from SQL (the source of truth) otherwise. A Redis failure is a
// cache miss, never an error. A deleted session leaves a tombstone for the
// cache's lifetime and entries are only ever added with SET NX, so a replica
// that read the session just before the deletion cannot put it back.
// Tombstones that could not reach Redis are written when it is back.
import type { SharedRedis } from "../redis/client.ts";
import type { ResolvedSession, SessionStore } from "./store.ts";

const MAX_PENDING_DELETES = 100_000;
const TOMBSTONE = "deleted";

function revive(text: string): ResolvedSession | null {
  try {
    const parsed = JSON.parse(text) as ResolvedSession;
    const { session } = parsed;
    for (const field of ["authenticatedAt", "idleExpiresAt", "expiresAt", "createdAt"] as const)
      session[field] = new Date(session[field]);
    if (session.lastSeenAt) session.lastSeenAt = new Date(session.lastSeenAt);
    return parsed;
  } catch {
    return null;
  }
}

export function redisCachedSessionStore(
  inner: SessionStore,
  redis: SharedRedis,
  options: { ttlSeconds: number; now: () => number; onError: (error: unknown) => void },
): SessionStore {
  const key = (id: string) => `${redis.keyPrefix}session:${id}`;
  const pendingDeletes = new Set<string>();

  const ttlMs = options.ttlSeconds * 1000;

  function writeTombstones(keys: string[]): Promise<unknown> {
    const batch = redis.client.multi();
    for (const item of keys) batch.set(item, TOMBSTONE, "PX", ttlMs);
    return batch.exec();
  }

  async function bury(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    const keys = ids.map(key);
    try {
      if (!redis.isReady()) throw new Error("redis is not connected");
      await writeTombstones(keys);
    } catch {
      if (pendingDeletes.size + keys.length <= MAX_PENDING_DELETES)
        for (const item of keys) pendingDeletes.add(item);
    }
  }

  redis.onReady(() => {
    if (pendingDeletes.size === 0) return;
    const keys = [...pendingDeletes];
    pendingDeletes.clear();
    writeTombstones(keys).catch((error: unknown) => {
      for (const item of keys) pendingDeletes.add(item);
      options.onError(error);
    });
  });

  async function evict(ids: string[]): Promise<void> {
    if (redis.isReady()) await redis.client.del(...ids.map(key)).catch(() => {});
  }

  return {
    ...inner,
    async findWithUser(id) {
      if (redis.isReady()) {
        try {
          const cached = await redis.client.get(key(id));
          if (cached === TOMBSTONE) return null;
          const resolved = cached === null ? null : revive(cached);
          if (resolved) return resolved;
        } catch {
          // A miss: SQL answers.
        }
      }
      const resolved = await inner.findWithUser(id);
      if (resolved && redis.isReady()) {
        const entryMs = Math.min(ttlMs, resolved.session.expiresAt.getTime() - options.now());
        if (entryMs > 0)
          redis.client.set(key(id), JSON.stringify(resolved), "PX", entryMs, "NX").catch(() => {});
      }
      return resolved;
    },
    async touch(id, idleExpiresAt) {
      await inner.touch(id, idleExpiresAt);
      // The next read takes the new idle expiry from SQL.
      await evict([id]);
    },
    async seen(ids, at) {
      await inner.seen(ids, at);
      // As for a renewal: the next read takes it from SQL, so replicas do not write it again.
      await evict(ids);
    },
    evict,
    async delete(id) {
      await inner.delete(id);
      await bury([id]);
    },
    async deleteSignIn(id) {
      const ids = await inner.deleteSignIn(id);
      await bury(ids.includes(id) ? ids : [id, ...ids]);
      return ids;
    },
    async deleteForUser(userId, exceptId) {
      const ids = await inner.deleteForUser(userId, exceptId);
      await bury(ids);
      return ids;
    },
  };
}
