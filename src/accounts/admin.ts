// What an operator does to an account: set its roles, disable it (nothing of
// it resolves or signs in any more, on every replica, at once) and enable it
// again, sign it out everywhere, delete it. Used by the admin console and by
// the CLI, which wires the same caches and messages. Every action is audited
// with the acting admin (or "cli") as the actor and the account as subject;
// a deleted account's events keep its id.
import { and, eq, isNull } from "drizzle-orm";
import type { Database } from "../db/client.ts";
import { apiKeys, oauthIdentities, users } from "../db/schema.ts";
import { ServiceError } from "../errors.ts";
import type { Clock } from "../kernel/clock.ts";
import type { SessionService } from "../sessions/service.ts";
import type { Audit } from "./audit.ts";

export type UserAdmin = ReturnType<typeof createUserAdmin>;

/** Who acts, from where: an admin's user id (console) or "cli". */
export type Actor = { actorId: string; ip?: string | null; userAgent?: string | null };

const CLI_ACTOR: Actor = { actorId: "cli" };

const ROLE_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;
const MAX_ROLES = 50;

/** Roles as given (a list, or comma-separated): trimmed, de-duplicated, each a plain name. */
export function parseRoles(value: unknown): string[] {
  const items =
    typeof value === "string"
      ? value.split(",")
      : Array.isArray(value) && value.every((item) => typeof item === "string")
        ? (value as string[])
        : null;
  if (!items) throw new ServiceError("invalid_request", "roles must be a list of role names.");
  const roles = [...new Set(items.map((role) => role.trim()).filter(Boolean))];
  const bad = roles.find((role) => !ROLE_PATTERN.test(role));
  if (bad !== undefined)
    throw new ServiceError(
      "invalid_request",
      `"${bad.slice(0, 64)}" is not a role name: letters, digits, . _ : - (at most 64).`,
    );
  if (roles.length > MAX_ROLES)
    throw new ServiceError("invalid_request", `At most ${MAX_ROLES} roles.`);
  return roles;
}

async function liveKeys(db: Pick<Database, "select">, userId: string): Promise<string[]> {
  const keys = await db
    .select({ hash: apiKeys.hash })
    .from(apiKeys)
    .where(and(eq(apiKeys.userId, userId), isNull(apiKeys.revokedAt)));
  return keys.map((key) => key.hash);
}

export function createUserAdmin(deps: {
  db: Database;
  sessions: Pick<SessionService, "revokeAllForUser" | "refreshUser">;
  /** Drops keys from every replica's cache (they stay stored, and work again once enabled). */
  dropKeys: (hashes: string[]) => void;
  /** Drops a deleted user's provider tokens from every replica's cache. */
  dropProviderTokens?: (userId: string, providers: string[]) => void;
  clock: Clock;
  audit?: Audit;
}) {
  const { db } = deps;
  const now = () => new Date(deps.clock.now());
  const audited = (
    type: Parameters<Audit>[0],
    userId: string,
    actor: Actor,
    detail?: Record<string, unknown>,
  ) => deps.audit?.(type, { userId, ...actor, ...(detail ? { detail } : {}) });

  async function disable(
    userId: string,
    actor: Actor = CLI_ACTOR,
  ): Promise<{ found: boolean; signedOut: number }> {
    const hashes = await db.transaction(async (tx) => {
      const updated = await tx
        .update(users)
        .set({ disabledAt: now(), updatedAt: now() })
        .where(eq(users.id, userId))
        .returning({ id: users.id });
      if (updated.length === 0) return null;
      return liveKeys(tx, userId);
    });
    if (!hashes) return { found: false, signedOut: 0 };
    deps.dropKeys(hashes);
    const signedOut = await deps.sessions.revokeAllForUser(userId);
    audited("user.disabled", userId, actor, { signedOut });
    return { found: true, signedOut };
  }

  return {
    /**
     * Disables the account: sign-ins are refused, its sessions are revoked
     * everywhere (SQL, Redis, every replica's memory) and its API keys leave
     * every cache, so none of it resolves from now on. False when there is
     * no such user.
     */
    disable,

    /**
     * Enables the account again: it signs in anew (no session comes back); its
     * keys work again, once every cache has forgotten they did not.
     */
    async enable(userId: string, actor: Actor = CLI_ACTOR): Promise<{ found: boolean }> {
      const updated = await db
        .update(users)
        .set({ disabledAt: null, updatedAt: now() })
        .where(eq(users.id, userId))
        .returning({ id: users.id });
      if (updated.length === 0) return { found: false };
      deps.dropKeys(await liveKeys(db, userId));
      audited("user.enabled", userId, actor);
      return { found: true };
    },

    /** Replaces the roles; the sessions' cached identities pick them up within SESSION_CACHE_TTL. */
    async setRoles(
      userId: string,
      roles: string[],
      actor: Actor = CLI_ACTOR,
    ): Promise<{ found: boolean; before: string[] }> {
      const [row] = await db
        .select({ roles: users.roles })
        .from(users)
        .where(eq(users.id, userId))
        .limit(1);
      if (!row) return { found: false, before: [] };
      await db.update(users).set({ roles, updatedAt: now() }).where(eq(users.id, userId));
      // Every replica reads the account again on its next request: a removed role ends now.
      await deps.sessions.refreshUser(userId);
      audited("user.roles_changed", userId, actor, { before: row.roles, after: roles });
      return { found: true, before: row.roles };
    },

    /** Revokes every session of the account, on every replica; the account stays usable. */
    async signOutEverywhere(userId: string, actor: Actor = CLI_ACTOR): Promise<number> {
      const count = await deps.sessions.revokeAllForUser(userId);
      audited("sessions.revoked_all", userId, actor, { count });
      return count;
    },

    /**
     * Deletes the account with its password, identities, sessions, keys and
     * email tokens (the foreign keys cascade). Disabled first, so nothing
     * signs in between; every replica forgets its sessions and keys.
     */
    async remove(userId: string, actor: Actor = CLI_ACTOR): Promise<{ found: boolean }> {
      const [row] = await db
        .select({ email: users.email })
        .from(users)
        .where(eq(users.id, userId))
        .limit(1);
      if (!row) return { found: false };
      const providers = await db
        .select({ provider: oauthIdentities.provider })
        .from(oauthIdentities)
        .where(eq(oauthIdentities.userId, userId));
      await db.update(users).set({ disabledAt: now() }).where(eq(users.id, userId));
      const hashes = await liveKeys(db, userId);
      await deps.sessions.revokeAllForUser(userId);
      await db.delete(users).where(eq(users.id, userId));
      deps.dropKeys(hashes);
      deps.dropProviderTokens?.(
        userId,
        providers.map((one) => one.provider),
      );
      // The address is kept in the event: the row that named it is gone.
      audited("user.deleted", userId, actor, { email: row.email });
      return { found: true };
    },
  };
}
