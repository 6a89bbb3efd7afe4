// WebAuthn challenges, kept server-side: the browser holds a random handle
// (a cookie), the row is keyed by its SHA-256 and says what the challenge is
// for and for whom. Taking one deletes it in the same statement, so a
// challenge answers once, whatever the answer was; an expired one answers
// never. Expired rows are swept as new ones are issued, at most once a minute.
import { eq, lt } from "drizzle-orm";
import type { Database } from "../db/client.ts";
import { webauthnChallenges } from "../db/schema.ts";
import { ServiceError } from "../errors.ts";
import type { Clock } from "../kernel/clock.ts";
import { generateToken, hashToken, isWellFormedToken } from "../kernel/tokens.ts";

export type Purpose = "register" | "authenticate" | "step-up";

const SWEEP_EVERY_MS = 60_000;

export const CHALLENGE_GONE = "This passkey request has expired or was already used: start again.";

export function challengeStore(db: Database, clock: Clock, ttlMs: number) {
  let lastSweep = 0;

  async function sweep(): Promise<void> {
    lastSweep = clock.now();
    await db
      .delete(webauthnChallenges)
      .where(lt(webauthnChallenges.expiresAt, new Date(lastSweep)));
  }

  return {
    sweep,

    /** Stores a challenge; returns the handle for the browser's cookie. */
    async issue(
      purpose: Purpose,
      challenge: string,
      owner: { userId?: string; sessionId?: string },
    ): Promise<string> {
      if (clock.now() - lastSweep > SWEEP_EVERY_MS) await sweep();
      const handle = generateToken();
      await db.insert(webauthnChallenges).values({
        id: hashToken(handle),
        purpose,
        challenge,
        userId: owner.userId ?? null,
        sessionId: owner.sessionId ?? null,
        expiresAt: new Date(clock.now() + ttlMs),
      });
      return handle;
    },

    /**
     * The challenge behind a handle, deleted as it is read; a 400 when there
     * is none, it expired, or it was made for another purpose, account or
     * session.
     */
    async take(
      handle: string | undefined,
      purpose: Purpose,
      owner: { userId?: string; sessionId?: string },
    ): Promise<string> {
      if (!isWellFormedToken(handle)) throw new ServiceError("invalid_request", CHALLENGE_GONE);
      const [row] = await db
        .delete(webauthnChallenges)
        .where(eq(webauthnChallenges.id, hashToken(handle)))
        .returning();
      if (
        !row ||
        row.expiresAt.getTime() <= clock.now() ||
        row.purpose !== purpose ||
        row.userId !== (owner.userId ?? null) ||
        row.sessionId !== (owner.sessionId ?? null)
      )
        throw new ServiceError("invalid_request", CHALLENGE_GONE);
      return row.challenge;
    },
  };
}
