// The one-time codes that carry a sign-in from the home site to a satellite
// (the hop), and the satellite session made from one. A code is 256 random
// bits, kept only as its SHA-256, bound to one exact host and to the hash of
// the state in that browser's satellite cookie, and deleted by the first
// attempt to use it, whatever that attempt's outcome. Invariant: a code
// that is unknown, expired, used, for another host or another state, or
// whose sign-in has ended, creates nothing.
import { and, eq, gt, lt } from "drizzle-orm";
import type { Database } from "../db/client.ts";
import { sessions, siteCodes, users } from "../db/schema.ts";
import { generateToken, hashToken, isWellFormedToken } from "../kernel/tokens.ts";
import type { SessionRecord } from "../sessions/store.ts";

/** Seconds a code lives: the browser follows the redirect at once. */
export const CODE_TTL_SECONDS = 30;

export type HopRefusal = "unknown_code" | "wrong_site" | "wrong_state" | "signed_out";

/** The audit log's writer (accounts/audit.ts), for the hop's two outcomes. */
export type HopAudit = (
  type: "site.signed_in" | "site.hop_refused",
  event: { userId: string | null; ip: string | null; detail: Record<string, unknown> },
) => void;

export type HopCodes = ReturnType<typeof hopCodeStore>;

export function hopCodeStore(
  db: Database,
  options: { idleTimeoutSeconds: number; now: () => number; audit?: HopAudit },
) {
  const idleMs = options.idleTimeoutSeconds * 1000;
  return {
    /** A new code for this sign-in, exchangeable once, on `host` only, by the browser holding `state`. */
    async issue(input: {
      signInId: string;
      userId: string;
      host: string;
      site: string;
      state: string;
      returnTo: string;
    }): Promise<string> {
      const code = generateToken();
      const now = options.now();
      // Codes nobody used are removed by the next issue: the table stays seconds deep.
      await db.delete(siteCodes).where(lt(siteCodes.expiresAt, new Date(now)));
      await db.insert(siteCodes).values({
        id: hashToken(code),
        signInId: input.signInId,
        userId: input.userId,
        host: input.host,
        site: input.site,
        stateHash: hashToken(input.state),
        returnTo: input.returnTo,
        expiresAt: new Date(now + CODE_TTL_SECONDS * 1000),
      });
      return code;
    },

    /** Uses a code up without creating anything (its browser could not prove it started the hop). */
    async burn(code: string): Promise<void> {
      if (isWellFormedToken(code))
        await db.delete(siteCodes).where(eq(siteCodes.id, hashToken(code)));
    },

    /**
     * Uses the code up and, when it holds (this host, this state, in time,
     * the sign-in still live), creates the satellite's session in the same
     * transaction, from the home session's user, method and sign-in time.
     */
    async exchange(input: {
      code: string;
      host: string;
      state: string;
      meta: { ip: string | null; userAgent: string | null };
    }): Promise<
      { token: string; session: SessionRecord; returnTo: string } | { refused: HopRefusal }
    > {
      if (!isWellFormedToken(input.code)) return { refused: "unknown_code" };
      const nowMs = options.now();
      const now = new Date(nowMs);
      let userId: string | null = null;
      const result = await db.transaction(async (tx) => {
        const [code] = await tx
          .delete(siteCodes)
          .where(eq(siteCodes.id, hashToken(input.code)))
          .returning();
        if (!code || code.expiresAt <= now) return { refused: "unknown_code" as const };
        userId = code.userId;
        if (code.host !== input.host) return { refused: "wrong_site" as const };
        if (code.stateHash !== hashToken(input.state)) return { refused: "wrong_state" as const };
        // The user's row first, as everything that makes a session takes it:
        // a first proof of the address (accounts/first-proof.ts) waits for
        // this, then removes this session too, or goes first and the home
        // session below is gone.
        const [owner] = await tx
          .select({ id: users.id })
          .from(users)
          .where(eq(users.id, code.userId))
          .for("share");
        if (!owner) return { refused: "signed_out" as const };
        // Held until commit: a sign-out of this sign-in waits for it, then deletes this session too.
        const [home] = await tx
          .select()
          .from(sessions)
          .where(
            and(
              eq(sessions.id, code.signInId),
              eq(sessions.userId, code.userId),
              gt(sessions.expiresAt, now),
              gt(sessions.idleExpiresAt, now),
            ),
          )
          .for("share");
        if (!home) return { refused: "signed_out" as const };
        const token = generateToken();
        const session: SessionRecord = {
          id: hashToken(token),
          userId: home.userId,
          // x-auth-method and x-auth-authenticated-at say the same on every site.
          method: home.method,
          authenticatedAt: home.authenticatedAt,
          idleExpiresAt: new Date(Math.min(nowMs + idleMs, home.expiresAt.getTime())),
          // The sign-in's absolute end is every site's.
          expiresAt: home.expiresAt,
          ip: input.meta.ip,
          userAgent: input.meta.userAgent?.slice(0, 512) ?? null,
          createdAt: now,
          signInId: code.signInId,
          site: code.site,
          // The factors proven at the sign-in are the sign-in's, on every site.
          amr: home.amr,
          factorTimes: home.factorTimes,
        };
        await tx.insert(sessions).values(session);
        return { token, session, returnTo: code.returnTo };
      });
      const ip = input.meta.ip;
      if ("refused" in result)
        options.audit?.("site.hop_refused", {
          userId,
          ip,
          detail: { host: input.host, reason: result.refused },
        });
      else
        options.audit?.("site.signed_in", {
          userId: result.session.userId,
          ip,
          detail: {
            site: result.session.site,
            host: input.host,
            signInId: result.session.signInId,
          },
        });
      return result;
    },
  };
}
