// Half signed in: a first factor (a password, a provider) was proven on an
// account that has a second factor. No session exists yet: the browser holds
// a random token in a cookie of its own, and this row (keyed by the token's
// SHA-256) says what the session will be made with once the second factor is
// proven. It lives ten minutes, works once, and resolves nothing: it is not
// a session, so neither /_resolve nor the account page can see it.
import { and, eq, gt, isNull, lt } from "drizzle-orm";
import type { Audit } from "../accounts/audit.ts";
import type { Database } from "../db/client.ts";
import {
  type ProviderSessionRecord,
  pendingSignIns,
  providerSessions,
  users,
} from "../db/schema.ts";
import { ServiceError } from "../errors.ts";
import type { Clock } from "../kernel/clock.ts";
import { generateToken, hashToken, isWellFormedToken } from "../kernel/tokens.ts";
import { mergeAmr } from "../sessions/amr.ts";
import type { SessionService } from "../sessions/service.ts";
import type { SessionGuard } from "../sessions/store.ts";

export const PENDING_TTL_MS = 10 * 60 * 1000;

export type PendingSignIn = {
  id: string;
  userId: string;
  method: string;
  amr: string[];
  guard: SessionGuard;
  returnTo: string | null;
  /** A provider sign-in's provider session: recorded beside the session made. */
  providerSession: ProviderSessionRecord | null;
  /** The account's address (the factors' throttle and notices name it). */
  email: string;
};

export type PendingSignIns = ReturnType<typeof createPendingSignIns>;

export function createPendingSignIns(deps: {
  db: Database;
  clock: Clock;
  sessions: Pick<SessionService, "createIf">;
  audit: Audit;
}) {
  const { db, clock } = deps;
  const now = () => new Date(clock.now());
  return {
    /** Starts the second step; returns the browser's token. */
    async create(input: Omit<PendingSignIn, "id" | "email">): Promise<string> {
      const token = generateToken();
      await db.delete(pendingSignIns).where(lt(pendingSignIns.expiresAt, now()));
      await db.insert(pendingSignIns).values({
        id: hashToken(token),
        ...input,
        expiresAt: new Date(clock.now() + PENDING_TTL_MS),
      });
      return token;
    },

    /** The live half sign-in of a token (of an enabled account), or null. */
    async find(token: string | undefined): Promise<PendingSignIn | null> {
      if (!isWellFormedToken(token)) return null;
      const [row] = await db
        .select({ pending: pendingSignIns, email: users.email })
        .from(pendingSignIns)
        .innerJoin(users, eq(users.id, pendingSignIns.userId))
        .where(
          and(
            eq(pendingSignIns.id, hashToken(token)),
            gt(pendingSignIns.expiresAt, now()),
            isNull(users.disabledAt),
          ),
        )
        .limit(1);
      if (!row) return null;
      const { id, userId, method, amr, guard, returnTo, providerSession } = row.pending;
      return { id, userId, method, amr, guard, returnTo, providerSession, email: row.email };
    },

    /**
     * The second factor was proven: the half sign-in is used up (two proofs
     * racing make one session) and the session made, with both factors' amr,
     * only while what the first factor was proven with is still the account's.
     */
    async complete(
      pending: PendingSignIn,
      proven: string[],
      meta: { ip: string | null; userAgent: string | null },
    ): Promise<{ token: string; sessionId: string }> {
      const deleted = await db
        .delete(pendingSignIns)
        .where(and(eq(pendingSignIns.id, pending.id), gt(pendingSignIns.expiresAt, now())))
        .returning({ id: pendingSignIns.id });
      if (deleted.length === 0)
        throw new ServiceError("unauthenticated", "This sign-in has expired: sign in again.");
      const amr = mergeAmr(pending.amr, proven);
      const created = await deps.sessions.createIf(pending.guard, pending.userId, pending.method, {
        ...meta,
        amr,
      });
      if (!created)
        throw new ServiceError(
          "conflict",
          "This account changed while you were signing in. Please sign in again.",
        );
      // The provider's sign-out (back-channel, RP-initiated) finds this session too.
      if (pending.providerSession)
        await db
          .insert(providerSessions)
          .values({ sessionId: created.session.id, ...pending.providerSession });
      deps.audit("user.login", {
        userId: pending.userId,
        ip: meta.ip,
        userAgent: meta.userAgent ?? null,
        detail: { method: pending.method, amr },
      });
      return { token: created.token, sessionId: created.session.id };
    },

    /** Every half sign-in of a user ends (factors reset or removed). */
    async dropForUser(userId: string): Promise<void> {
      await db.delete(pendingSignIns).where(eq(pendingSignIns.userId, userId));
    },
  };
}
