// Logout tokens acted on once: each provider's `jti` is remembered until the
// token's `iat` would fail the freshness check anyway, in Redis when it is
// configured (SET NX with an expiry: shared by every replica at once), in
// SQL otherwise or while Redis cannot be reached (an insert that conflicts
// on a replay). A replay answers false and changes nothing.
import { createHash } from "node:crypto";
import { eq, lt } from "drizzle-orm";
import type { Database } from "../db/client.ts";
import { usedLogoutTokens } from "../db/schema.ts";
import type { SharedRedis } from "../redis/client.ts";

export type LogoutReplay = {
  /** True the first time this provider's `jti` is seen before `expiresAt`; false on a replay. */
  firstUse(provider: string, jti: string, expiresAt: number, now: number): Promise<boolean>;
  /** Forgets a use whose logout could not be carried out, so the provider's retry is accepted. */
  release(provider: string, jti: string): Promise<void>;
};

const keyOf = (provider: string, jti: string) =>
  createHash("sha256").update(`${provider}\n${jti}`).digest("hex");

export function sqlLogoutReplay(db: Database): LogoutReplay {
  return {
    async firstUse(provider, jti, expiresAt, now) {
      await db.delete(usedLogoutTokens).where(lt(usedLogoutTokens.expiresAt, new Date(now)));
      const inserted = await db
        .insert(usedLogoutTokens)
        .values({ id: keyOf(provider, jti), expiresAt: new Date(expiresAt) })
        .onConflictDoNothing()
        .returning({ id: usedLogoutTokens.id });
      return inserted.length === 1;
    },
    async release(provider, jti) {
      await db.delete(usedLogoutTokens).where(eq(usedLogoutTokens.id, keyOf(provider, jti)));
    },
  };
}

export function logoutReplay(db: Database, redis: SharedRedis | null): LogoutReplay {
  const sql = sqlLogoutReplay(db);
  if (!redis) return sql;
  const key = (provider: string, jti: string) =>
    `${redis.keyPrefix}logout_jti:${keyOf(provider, jti)}`;
  return {
    async firstUse(provider, jti, expiresAt, now) {
      if (!redis.isReady()) return sql.firstUse(provider, jti, expiresAt, now);
      const ms = Math.max(1_000, Math.ceil(expiresAt - now));
      const ok = await redis.client.set(key(provider, jti), "1", "PX", ms, "NX");
      return ok === "OK";
    },
    async release(provider, jti) {
      if (redis.isReady()) await redis.client.del(key(provider, jti));
      else await sql.release(provider, jti);
    },
  };
}
