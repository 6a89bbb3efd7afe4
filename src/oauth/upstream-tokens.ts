// The provider tokens kept server-side, for rules that pass a user's access
// token upstream: read from the vault, cached per user and provider, and
// refreshed shortly before they expire. Concurrent requests in this process
// wait for one refresh; across replicas, a lock in Redis lets one of them ask
// the provider while the others wait for the token it stores. Without the
// lock, a replica that loses a refresh race takes the token the winner stored.
import { and, eq } from "drizzle-orm";
import { LRUCache } from "lru-cache";
import type { Audit } from "../accounts/audit.ts";
import type { Database } from "../db/client.ts";
import { oauthIdentities } from "../db/schema.ts";
import type { Clock } from "../kernel/clock.ts";
import type { Provider } from "./provider.ts";
import { ProviderError, type ProviderTokens } from "./provider-calls.ts";
import { sealTokens, type TokenVault } from "./token-vault.ts";

/** A token this close to its expiry is refreshed before it is passed on. */
const REFRESH_MARGIN_MS = 30_000;
const LOCK_WAIT_STEP_MS = 50;

/** Why no provider token can be passed upstream. */
export class UpstreamTokenError extends Error {
  constructor(
    /** not_linked: 403; expired: the user must sign in with the provider again (401); unavailable: 503. */
    readonly reason: "not_linked" | "expired" | "unavailable",
    message: string,
  ) {
    super(message);
  }
}

/** A lock shared by the replicas (Redis), so that one of them refreshes a user's token. */
export type RefreshLock = {
  /** True when this caller holds the lock for `ms`; false when another does. Throws when it cannot tell. */
  acquire(key: string, ms: number): Promise<boolean>;
  release(key: string): Promise<void>;
};

type IdentityRow = typeof oauthIdentities.$inferSelect;
type LiveToken = { token: string; expiresAt: number | null };

export function createUpstreamTokens(deps: {
  db: Database;
  vault: TokenVault;
  audit: Audit;
  clock: Clock;
  /** The configured provider of that id; throws when there is none. */
  provider(id: string): Provider;
  /** Without it (no Redis), replicas may refresh the same token at once; the loser takes the winner's. */
  refreshLock?: RefreshLock | undefined;
  /** How long a refresh may take: the lock is held at most this long. */
  refreshTimeoutMs?: number | undefined;
  /** Called with the `userId:provider` keys of tokens dropped here, so other replicas drop them too. */
  onTokensForgotten?: ((keys: string[]) => void) | undefined;
}) {
  const { db, vault, audit, clock } = deps;
  const cache = new LRUCache<string, LiveToken>({ max: 10_000 });
  const refreshing = new Map<string, Promise<string>>();
  const keyOf = (userId: string, providerId: string) => `${userId}:${providerId}`;

  async function readIdentity(
    userId: string,
    providerId: string,
  ): Promise<IdentityRow | undefined> {
    const rows = await db
      .select()
      .from(oauthIdentities)
      .where(and(eq(oauthIdentities.userId, userId), eq(oauthIdentities.provider, providerId)))
      .limit(1);
    return rows[0];
  }

  const live = (expiresAt: number | null) =>
    expiresAt === null || expiresAt - REFRESH_MARGIN_MS > clock.now();

  async function liveToken(row: IdentityRow): Promise<LiveToken | null> {
    const token = row.accessToken ? await vault.open(row.accessToken) : null;
    const expiresAt = row.tokenExpiresAt?.getTime() ?? null;
    return token && live(expiresAt) ? { token, expiresAt } : null;
  }

  /** Asks the provider for a new access token with the stored refresh token. */
  async function refreshToken(userId: string, source: Provider, row: IdentityRow): Promise<string> {
    const sealedRefresh = row.refreshToken;
    const token = sealedRefresh ? await vault.open(sealedRefresh) : null;
    const expired = () =>
      new UpstreamTokenError(
        "expired",
        `Your ${source.displayName} sign-in has expired. Sign in with it again.`,
      );
    if (!token || !source.refresh) throw expired();
    let fresh: ProviderTokens;
    try {
      fresh = await source.refresh(token);
    } catch (error) {
      // Another replica may have used the refresh token first: take what it stored.
      const again = await readIdentity(userId, source.id);
      const theirs = again && again.refreshToken !== sealedRefresh && (await liveToken(again));
      if (theirs) return theirs.token;
      if (error instanceof ProviderError && error.kind === "refused") throw expired();
      throw new UpstreamTokenError(
        "unavailable",
        `${source.displayName} cannot be reached to renew your token.`,
      );
    }
    const sealed = await sealTokens(vault, fresh, sealedRefresh);
    await db.update(oauthIdentities).set(sealed).where(eq(oauthIdentities.id, row.id));
    cache.set(keyOf(userId, source.id), {
      token: fresh.accessToken,
      expiresAt: fresh.expiresAt?.getTime() ?? null,
    });
    audit("oauth.token_refreshed", { userId, detail: { provider: source.id } });
    return fresh.accessToken;
  }

  /**
   * Refreshes under the replicas' lock when there is one: the replica that
   * gets it asks the provider, the others wait for the token it stores.
   */
  async function refreshOnce(userId: string, source: Provider, row: IdentityRow): Promise<string> {
    const lock = deps.refreshLock;
    const holdMs = (deps.refreshTimeoutMs ?? 10_000) + 5_000;
    const lockKey = `oauth-refresh:${row.id}`;
    let held = false;
    try {
      held = lock ? await lock.acquire(lockKey, holdMs) : false;
    } catch {
      return refreshToken(userId, source, row); // the lock cannot answer: refresh here
    }
    if (lock && !held) {
      for (let waited = 0; waited < holdMs; waited += LOCK_WAIT_STEP_MS) {
        await new Promise((resolve) => setTimeout(resolve, LOCK_WAIT_STEP_MS));
        const again = await readIdentity(userId, source.id);
        const stored = again && (await liveToken(again));
        if (stored) {
          cache.set(keyOf(userId, source.id), stored);
          return stored.token;
        }
      }
      return refreshToken(userId, source, (await readIdentity(userId, source.id)) ?? row);
    }
    try {
      // Another replica may have finished just before the lock was ours.
      const latest = (await readIdentity(userId, source.id)) ?? row;
      const stored = await liveToken(latest);
      if (stored) return stored.token;
      return await refreshToken(userId, source, latest);
    } finally {
      if (held) await lock?.release(lockKey).catch(() => {});
    }
  }

  return {
    /** The user's live access token from a provider, refreshed when it is about to expire. */
    async upstreamToken(userId: string, providerId: string): Promise<string> {
      const key = keyOf(userId, providerId);
      const cached = cache.get(key);
      if (cached && live(cached.expiresAt)) return cached.token;
      const pending = refreshing.get(key);
      if (pending) return pending;
      const work = (async () => {
        const source = deps.provider(providerId);
        const row = await readIdentity(userId, providerId);
        if (!row?.accessToken)
          throw new UpstreamTokenError(
            "not_linked",
            `sign in with ${source.displayName} (or link it on your account page) to use this`,
          );
        const stored = await liveToken(row);
        if (stored) {
          cache.set(key, stored);
          return stored.token;
        }
        return refreshOnce(userId, source, row);
      })();
      refreshing.set(key, work);
      try {
        return await work;
      } finally {
        refreshing.delete(key);
      }
    },

    /** The stored tokens changed here (a sign-in, a link): this replica reads them again. */
    changed(userId: string, providerId: string): void {
      cache.delete(keyOf(userId, providerId));
    },

    /** Drops a user's provider tokens here and on every other replica. */
    dropTokens(userId: string, providerIds: string[]): void {
      const keys = providerIds.map((id) => keyOf(userId, id));
      for (const key of keys) cache.delete(key);
      if (keys.length > 0) deps.onTokensForgotten?.(keys);
    },

    /** Forgets provider tokens another replica dropped. */
    forgetTokens(keys: string[]): void {
      for (const key of keys) cache.delete(key);
    },
  };
}

export type UpstreamTokens = ReturnType<typeof createUpstreamTokens>;
