// What an operator does to an account: disable it (nothing of it resolves or
// signs in any more, on every replica, at once) and enable it again. Used by
// the server and by the CLI, which wires the same caches and messages.
import { and, eq, isNull } from "drizzle-orm";
import type { Database } from "../db/client.ts";
import { apiKeys, users } from "../db/schema.ts";
import type { Clock } from "../kernel/clock.ts";
import type { SessionService } from "../sessions/service.ts";
import type { Audit } from "./audit.ts";

export type UserAdmin = ReturnType<typeof createUserAdmin>;

async function liveKeys(db: Pick<Database, "select">, userId: string): Promise<string[]> {
  const keys = await db
    .select({ hash: apiKeys.hash })
    .from(apiKeys)
    .where(and(eq(apiKeys.userId, userId), isNull(apiKeys.revokedAt)));
  return keys.map((key) => key.hash);
}

export function createUserAdmin(deps: {
  db: Database;
  sessions: Pick<SessionService, "revokeAllForUser">;
  /** Drops keys from every replica's cache (they stay stored, and work again once enabled). */
  dropKeys: (hashes: string[]) => void;
  clock: Clock;
  audit?: Audit;
}) {
  const { db } = deps;
  return {
    /**
     * Disables the account: sign-ins are refused, its sessions are revoked
     * everywhere (SQL, Redis, every replica's memory) and its API keys leave
     * every cache, so none of it resolves from now on. False when there is
     * no such user.
     */
    async disable(userId: string): Promise<{ found: boolean; signedOut: number }> {
      const hashes = await db.transaction(async (tx) => {
        const updated = await tx
          .update(users)
          .set({ disabledAt: new Date(deps.clock.now()), updatedAt: new Date(deps.clock.now()) })
          .where(eq(users.id, userId))
          .returning({ id: users.id });
        if (updated.length === 0) return null;
        return liveKeys(tx, userId);
      });
      if (!hashes) return { found: false, signedOut: 0 };
      deps.dropKeys(hashes);
      const signedOut = await deps.sessions.revokeAllForUser(userId);
      deps.audit?.("user.disabled", { userId, detail: { signedOut } });
      return { found: true, signedOut };
    },

    /**
     * Enables the account again: it signs in anew (no session comes back); its
     * keys work again, once every cache has forgotten they did not.
     */
    async enable(userId: string): Promise<{ found: boolean }> {
      const updated = await db
        .update(users)
        .set({ disabledAt: null, updatedAt: new Date(deps.clock.now()) })
        .where(eq(users.id, userId))
        .returning({ id: users.id });
      if (updated.length === 0) return { found: false };
      deps.dropKeys(await liveKeys(db, userId));
      deps.audit?.("user.enabled", { userId });
      return { found: true };
    },
  };
}
