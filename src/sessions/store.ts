// The session store: SQL is the source of truth. A cache layer (in-process,
// Redis) sits in front of it in the session service, never instead of it.
import { and, eq, gt, ne, sql } from "drizzle-orm";
import type { Database } from "../db/client.ts";
import {
  oauthIdentities,
  passwordCredentials,
  sessions,
  totpFactors,
  users,
} from "../db/schema.ts";
import { mergeAmr } from "./amr.ts";

export type SessionRecord = {
  id: string;
  userId: string;
  method: string;
  authenticatedAt: Date;
  /** RFC 8176 values (sessions/amr.ts). */
  amr: string[];
  /** When each amr value was last proven (epoch ms). */
  factorTimes: Record<string, number>;
  idleExpiresAt: Date;
  expiresAt: Date;
  ip: string | null;
  userAgent: string | null;
  createdAt: Date;
};

export type SessionUser = {
  id: string;
  email: string;
  emailVerified: boolean;
  name: string;
  roles: string[];
  /** The user has a confirmed second factor (read with the session, so the resolver asks nothing more). */
  secondFactor?: boolean;
};

export type ResolvedSession = { session: SessionRecord; user: SessionUser };

/**
 * What a new session was made with, still the account's when the row goes
 * in: the password hash that was verified, or the provider identity. A reset
 * or a first proof of the address that changes it meanwhile wins.
 */
export type SessionGuard = { passwordHash: string } | { identityId: string };

export interface SessionStore {
  create(record: Omit<SessionRecord, "createdAt">): Promise<void>;
  /** Creates the session only while the guard holds; false when it does not. */
  createIf(record: Omit<SessionRecord, "createdAt">, guard: SessionGuard): Promise<boolean>;
  /** The session and its (enabled) user, or null. Throws when the store cannot answer. */
  findWithUser(id: string): Promise<ResolvedSession | null>;
  touch(id: string, idleExpiresAt: Date): Promise<void>;
  /** Adds amr values proven now to a session; the session as it is now, or null when it is gone. */
  recordFactor(id: string, amr: string[], at: Date): Promise<SessionRecord | null>;
  delete(id: string): Promise<void>;
  /** Deletes every session of the user (but one, if given); returns the deleted ids. */
  deleteForUser(userId: string, exceptId?: string): Promise<string[]>;
  listForUser(userId: string, now: Date): Promise<SessionRecord[]>;
  /** Drops cached copies (a cache layer's; SQL has none). */
  evict?(ids: string[]): Promise<void>;
}

export function sqlSessionStore(db: Database): SessionStore {
  return {
    async create(record) {
      await db.insert(sessions).values(record);
    },
    async createIf(record, guard) {
      return db.transaction(async (tx) => {
        // The user's row is where changes of ownership serialise (the email
        // flows take it FOR NO KEY UPDATE): read after it, the credential is
        // as the last committed change left it.
        const [user] = await tx
          .select({ id: users.id })
          .from(users)
          .where(eq(users.id, record.userId))
          .for("share");
        if (!user) return false;
        const holds =
          "passwordHash" in guard
            ? await tx
                .select({ userId: passwordCredentials.userId })
                .from(passwordCredentials)
                .where(
                  and(
                    eq(passwordCredentials.userId, record.userId),
                    eq(passwordCredentials.hash, guard.passwordHash),
                  ),
                )
            : await tx
                .select({ id: oauthIdentities.id })
                .from(oauthIdentities)
                .where(
                  and(
                    eq(oauthIdentities.id, guard.identityId),
                    eq(oauthIdentities.userId, record.userId),
                  ),
                );
        if (holds.length === 0) return false;
        await tx.insert(sessions).values(record);
        return true;
      });
    },
    async findWithUser(id) {
      const rows = await db
        .select({
          session: sessions,
          user: {
            id: users.id,
            email: users.email,
            emailVerified: users.emailVerified,
            name: users.name,
            roles: users.roles,
            disabledAt: users.disabledAt,
            // Second factors live in their own tables: passkeys add theirs here.
            secondFactor: sql<boolean>`exists (select 1 from ${totpFactors} where ${totpFactors.userId} = ${users.id} and ${totpFactors.confirmedAt} is not null)`,
          },
        })
        .from(sessions)
        .innerJoin(users, eq(users.id, sessions.userId))
        .where(eq(sessions.id, id))
        .limit(1);
      const row = rows[0];
      if (!row || row.user.disabledAt) return null;
      const { disabledAt: _, ...user } = row.user;
      return { session: row.session, user };
    },
    async touch(id, idleExpiresAt) {
      await db.update(sessions).set({ idleExpiresAt }).where(eq(sessions.id, id));
    },
    async recordFactor(id, amr, at) {
      return db.transaction(async (tx) => {
        const [row] = await tx.select().from(sessions).where(eq(sessions.id, id)).for("update");
        if (!row) return null;
        const factorTimes = { ...row.factorTimes };
        for (const value of amr) factorTimes[value] = at.getTime();
        const [updated] = await tx
          .update(sessions)
          .set({ amr: mergeAmr(row.amr, amr), factorTimes })
          .where(eq(sessions.id, id))
          .returning();
        return updated ?? null;
      });
    },
    async delete(id) {
      await db.delete(sessions).where(eq(sessions.id, id));
    },
    async deleteForUser(userId, exceptId) {
      const condition = exceptId
        ? and(eq(sessions.userId, userId), ne(sessions.id, exceptId))
        : eq(sessions.userId, userId);
      const deleted = await db.delete(sessions).where(condition).returning({ id: sessions.id });
      return deleted.map((row) => row.id);
    },
    async listForUser(userId, now) {
      return db
        .select()
        .from(sessions)
        .where(
          and(
            eq(sessions.userId, userId),
            gt(sessions.expiresAt, now),
            gt(sessions.idleExpiresAt, now),
          ),
        )
        .orderBy(sessions.createdAt);
    },
  };
}
