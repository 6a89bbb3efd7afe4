// The session store: SQL is the source of truth. A cache layer (in-process,
// Redis) sits in front of it in the session service, never instead of it.
import { and, eq, gt, inArray, isNull, ne, or, sql } from "drizzle-orm";
import type { Database } from "../db/client.ts";
import {
  oauthIdentities,
  passwordCredentials,
  sessions,
  totpFactors,
  users,
  webauthnCredentials,
} from "../db/schema.ts";
import { mergeAmr } from "./amr.ts";

/** Sessions marked seen in one statement, at most. */
const SEEN_BATCH = 1000;
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
  /** The sign-in it belongs to (the home session's id); null on sessions older than sites: its own. */
  signInId?: string | null;
  /** The satellite site it is for (sites/); null or absent: the home site. */
  site?: string | null;
  /** When it last answered a request, to within five minutes (service.ts); null: not since it began. */
  lastSeenAt?: Date | null;
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
  /** Notes that these sessions answered requests, as of `at` (the admin console's "last seen"). */
  seen(ids: string[], at: Date): Promise<void>;
  /**
   * Adds amr values proven now to a session and to every other session of
   * its sign-in (each site's: the same browser, the same person); the
   * session as it is now and the ids changed, or null when it is gone.
   */
  recordFactor(
    id: string,
    amr: string[],
    at: Date,
  ): Promise<{ session: SessionRecord; changed: string[] } | null>;
  delete(id: string): Promise<void>;
  /**
   * Deletes the session and every other session of its sign-in (each
   * site's); returns the deleted ids (none when the session is unknown).
   */
  deleteSignIn(id: string): Promise<string[]>;
  /** Deletes every session of the user (but one and its sign-in's other sites, if given); returns the deleted ids. */
  deleteForUser(userId: string, exceptId?: string): Promise<string[]>;
  listForUser(userId: string, now: Date): Promise<SessionRecord[]>;
  /** Drops cached copies (a cache layer's; SQL has none). */
  evict?(ids: string[]): Promise<void>;
}

export function sqlSessionStore(db: Database): SessionStore {
  // The resolver's read on every cache miss, built once: drizzle builds a
  // query's SQL anew on each call otherwise (garbage and CPU on every miss).
  const findWithUserQuery = db
    .select({
      session: sessions,
      user: {
        id: users.id,
        email: users.email,
        emailVerified: users.emailVerified,
        name: users.name,
        roles: users.roles,
        disabledAt: users.disabledAt,
        // Second factors live in their own tables: a confirmed app, or a passkey.
        secondFactor: sql<boolean>`(exists (select 1 from ${totpFactors} where ${totpFactors.userId} = ${users.id} and ${totpFactors.confirmedAt} is not null) or exists (select 1 from ${webauthnCredentials} where ${webauthnCredentials.userId} = ${users.id}))`,
      },
    })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(eq(sessions.id, sql.placeholder("id")))
    .limit(1)
    .prepare("gatehouse_find_session_with_user");
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
      const rows = await findWithUserQuery.execute({ id });
      const row = rows[0];
      if (!row || row.user.disabledAt) return null;
      const { disabledAt: _, ...user } = row.user;
      return { session: row.session, user };
    },
    async seen(ids, at) {
      for (let start = 0; start < ids.length; start += SEEN_BATCH)
        await db
          .update(sessions)
          .set({ lastSeenAt: at })
          .where(inArray(sessions.id, ids.slice(start, start + SEEN_BATCH)));
    },
    async touch(id, idleExpiresAt) {
      await db.update(sessions).set({ idleExpiresAt }).where(eq(sessions.id, id));
    },
    async recordFactor(id, amr, at) {
      return db.transaction(async (tx) => {
        const [own] = await tx
          .select({ signInId: sessions.signInId })
          .from(sessions)
          .where(eq(sessions.id, id));
        if (!own) return null;
        const signInId = own.signInId ?? id;
        // The home row first, as deleteSignIn and the hop take it: whoever
        // has it goes first, so two writers of one sign-in never deadlock.
        await tx
          .select({ id: sessions.id })
          .from(sessions)
          .where(eq(sessions.id, signInId))
          .for("update");
        const rows = await tx
          .select()
          .from(sessions)
          .where(
            or(eq(sessions.id, id), eq(sessions.id, signInId), eq(sessions.signInId, signInId)),
          )
          .orderBy(sessions.id)
          .for("update");
        let session: SessionRecord | null = null;
        for (const row of rows) {
          const factorTimes = { ...row.factorTimes };
          for (const value of amr) factorTimes[value] = at.getTime();
          const [updated] = await tx
            .update(sessions)
            .set({ amr: mergeAmr(row.amr, amr), factorTimes })
            .where(eq(sessions.id, row.id))
            .returning();
          if (updated && row.id === id) session = updated;
        }
        return session ? { session, changed: rows.map((row) => row.id) } : null;
      });
    },
    async delete(id) {
      await db.delete(sessions).where(eq(sessions.id, id));
    },
    async deleteSignIn(id) {
      return db.transaction(async (tx) => {
        const [row] = await tx
          .select({ signInId: sessions.signInId })
          .from(sessions)
          .where(eq(sessions.id, id));
        if (!row) return [];
        const signInId = row.signInId ?? id;
        // The sign-in's home row, locked: a satellite session being created
        // for it (sites/hop-codes.ts holds it FOR SHARE) commits first and is
        // deleted below, or sees the sign-in gone and is never created.
        await tx
          .select({ id: sessions.id })
          .from(sessions)
          .where(eq(sessions.id, signInId))
          .for("update");
        const deleted = await tx
          .delete(sessions)
          .where(
            or(eq(sessions.id, id), eq(sessions.id, signInId), eq(sessions.signInId, signInId)),
          )
          .returning({ id: sessions.id });
        return deleted.map((one) => one.id);
      });
    },
    async deleteForUser(userId, exceptId) {
      // The session kept keeps its whole sign-in: its other sites' sessions too.
      const kept = exceptId
        ? ((
            await db
              .select({ signInId: sessions.signInId })
              .from(sessions)
              .where(eq(sessions.id, exceptId))
          )[0]?.signInId ?? exceptId)
        : undefined;
      const condition =
        exceptId && kept
          ? and(
              eq(sessions.userId, userId),
              ne(sessions.id, exceptId),
              ne(sessions.id, kept),
              or(isNull(sessions.signInId), ne(sessions.signInId, kept)),
            )
          : eq(sessions.userId, userId);
      return db.transaction(async (tx) => {
        // Locked first, in a statement of its own: a satellite session being
        // created for one of these sign-ins (sites/hop-codes.ts holds its home
        // row FOR SHARE) commits before this, and the delete below, which
        // reads afresh, sees it too; a later one finds its sign-in gone.
        await tx.select({ id: sessions.id }).from(sessions).where(condition).for("update");
        const deleted = await tx.delete(sessions).where(condition).returning({ id: sessions.id });
        return deleted.map((row) => row.id);
      });
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
