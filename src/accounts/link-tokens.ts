// Single-use tokens sent by email. Only their SHA-256 is stored; a token is
// bound to a purpose and to the address it was sent to, so it dies when the
// account's address changes, when it is used, when it expires, and when a
// newer token of the same purpose is issued.
import { and, eq, gt, isNull } from "drizzle-orm";
import type { Database } from "../db/client.ts";
import { emailTokens, users } from "../db/schema.ts";
import { generateToken, hashToken, isWellFormedToken } from "../kernel/tokens.ts";

export type TokenPurpose = "verify_email" | "reset_password";

export type TokenOwner = { userId: string; email: string };

export function emailTokenStore(db: Database) {
  /** The live token's owner, when the address it was sent to is still the account's. */
  const liveCondition = (token: string, purpose: TokenPurpose, now: Date) =>
    and(
      eq(emailTokens.id, hashToken(token)),
      eq(emailTokens.purpose, purpose),
      isNull(emailTokens.usedAt),
      gt(emailTokens.expiresAt, now),
    );

  return {
    /** Issues a token; every older token of this purpose for the user dies. */
    async issue(owner: TokenOwner, purpose: TokenPurpose, expiresAt: Date): Promise<string> {
      const token = generateToken();
      await db.transaction(async (tx) => {
        await tx
          .delete(emailTokens)
          .where(and(eq(emailTokens.userId, owner.userId), eq(emailTokens.purpose, purpose)));
        await tx.insert(emailTokens).values({
          id: hashToken(token),
          userId: owner.userId,
          purpose,
          email: owner.email,
          expiresAt,
        });
      });
      return token;
    },

    /** Whether a token would be accepted now, without using it (for the page a link opens). */
    async peek(token: unknown, purpose: TokenPurpose, now: Date): Promise<TokenOwner | null> {
      if (typeof token !== "string" || !isWellFormedToken(token)) return null;
      const rows = await db
        .select({ userId: emailTokens.userId, email: emailTokens.email })
        .from(emailTokens)
        .innerJoin(users, and(eq(users.id, emailTokens.userId), eq(users.email, emailTokens.email)))
        .where(liveCondition(token, purpose, now))
        .limit(1);
      return rows[0] ?? null;
    },

    /**
     * Uses a token up: of two concurrent uses, one wins. Returns its owner, or
     * null when it is unknown, used, expired, of another purpose, or was sent
     * to an address the account no longer has.
     */
    async consume(token: unknown, purpose: TokenPurpose, now: Date): Promise<TokenOwner | null> {
      if (typeof token !== "string" || !isWellFormedToken(token)) return null;
      const used = await db
        .update(emailTokens)
        .set({ usedAt: now })
        .where(liveCondition(token, purpose, now))
        .returning({ userId: emailTokens.userId, email: emailTokens.email });
      const owner = used[0];
      if (!owner) return null;
      const current = await db
        .select({ email: users.email })
        .from(users)
        .where(eq(users.id, owner.userId))
        .limit(1);
      return current[0]?.email === owner.email ? owner : null;
    },

    /** Every unused token of this purpose for the user dies (a password changed: old reset links stop working). */
    async revokeAll(userId: string, purpose: TokenPurpose): Promise<void> {
      await db
        .update(emailTokens)
        .set({ usedAt: new Date() })
        .where(
          and(
            eq(emailTokens.userId, userId),
            eq(emailTokens.purpose, purpose),
            isNull(emailTokens.usedAt),
          ),
        );
    },
  };
}

export type EmailTokenStore = ReturnType<typeof emailTokenStore>;
